-- One row per shipment: dates in Asia/Shanghai, on-time flag, and whether it is its order's
-- first shipment (the week an order's GMV counts in the logistics cost share).
with shipments as (
    select * from {{ ref('stg_logistics__shipments') }}
),

final as (
    select
        shipment_id,
        order_id,
        warehouse_id,
        carrier,
        shipped_at,
        to_date(shipped_at) as shipped_date,
        promised_at,
        delivered_at,
        to_date(delivered_at) as delivered_date,
        delivered_at is not null as is_delivered,
        delivered_at <= promised_at as is_on_time,
        row_number() over (
            partition by order_id order by shipped_at, shipment_id
        ) = 1 as is_first_shipment,
        logistics_cost_cny
    from shipments
)

select * from final
