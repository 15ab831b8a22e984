with source as (
    select * from {{ source('transaction', 'order_items') }}
),

renamed as (
    select
        order_id,
        line_no,
        sku_id,
        qty,
        currency,
        unit_price as unit_price_local,
        discount as discount_local,
        line_amount as line_amount_local,
        fx_rate_to_cny,
        line_gmv_cny,
        order_updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
