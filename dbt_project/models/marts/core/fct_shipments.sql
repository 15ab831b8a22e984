-- depends_on: {{ ref('fct_orders') }} (its relationships test: fct_orders is built first)
{{ config(materialized='incremental', incremental_strategy='merge', unique_key='shipment_id') }}
-- One row per shipment: dates in Asia/Shanghai, on-time flag, and whether it is its order's
-- first shipment (the week an order's GMV counts in the logistics cost share).
-- Incremental: every shipment of the orders with a shipment silver loaded since the last
-- build (the first-shipment flag needs them all), and the lookback window.
with changed_orders as (
    select distinct changed.order_id
    from {{ ref('stg_logistics__shipments') }} as changed
    {%- if is_incremental() %}
        where
            changed.silver_loaded_at > {{ watermark() }}
            or to_date(changed.shipped_at) >= {{ lookback_from('shipped_date') }}
    {%- endif %}
),

shipments as (
    select all_shipments.*
    from {{ ref('stg_logistics__shipments') }} as all_shipments
    inner join changed_orders on all_shipments.order_id = changed_orders.order_id
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
        logistics_cost_cny,
        max(silver_loaded_at) over (partition by order_id) as silver_loaded_at
    from shipments
)

select * from final
