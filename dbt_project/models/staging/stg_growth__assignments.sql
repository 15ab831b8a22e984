with source as (
    select * from {{ source('growth', 'assignments') }}
),

renamed as (
    select
        experiment_id,
        user_id,
        variant,
        assigned_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
