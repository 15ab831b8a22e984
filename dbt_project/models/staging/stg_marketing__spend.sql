with source as (
    select * from {{ source('marketing', 'spend') }}
),

renamed as (
    select
        spend_id,
        spend_date,
        channel,
        pilot_category,
        amount_cny,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
