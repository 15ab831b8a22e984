with source as (
    select * from {{ source('transaction', 'orders') }}
),

renamed as (
    select
        order_id,
        user_id,
        merchant_id,
        channel,
        currency,
        status as order_status,
        event_type as last_event_type,
        created_at,
        paid_at,
        cancelled_at,
        fx_rate_to_cny,
        fx_rate_date,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
