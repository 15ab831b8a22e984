with source as (
    select * from {{ source('growth', 'experiments') }}
),

renamed as (
    select
        experiment_id,
        name as experiment_name,
        planned_treatment_share,
        planned_users_per_variant,
        started_at,
        ended_at,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
