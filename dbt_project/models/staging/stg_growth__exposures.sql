with source as (
    select * from {{ source('growth', 'exposures') }}
),

renamed as (
    select
        experiment_id,
        user_id,
        exposed_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
