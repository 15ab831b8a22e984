with source as (
    select * from {{ source('logistics', 'shipments') }}
),

renamed as (
    select
        shipment_id,
        order_id,
        warehouse_id,
        carrier,
        shipped_at,
        promised_at,
        delivered_at,
        logistics_cost_cny,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
