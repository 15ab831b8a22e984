-- Logistics per ISO week and order-level scope: cost share (cost of shipments shipped in the
-- week / GMV of their orders, each order once, in its first shipment's week) and on-time
-- delivery (shipments delivered in the week by their promised time / shipments delivered).
with shipments as (
    select * from {{ ref('fct_shipments') }}
    where
        {{ reaches_changed_weeks('shipped_date') }}
        or {{ reaches_changed_weeks('delivered_date') }}
),

orders as (
    select * from {{ ref('int_orders_scoped') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

scoped as (
    select
        shipments.*,
        orders.scope_type,
        orders.scope_value,
        orders.order_gmv_cny,
        shipped.iso_week_label as shipped_week,
        delivered.iso_week_label as delivered_week
    from shipments
    inner join orders on shipments.order_id = orders.order_id
    inner join dates as shipped on shipments.shipped_date = shipped.date_day
    left join dates as delivered on shipments.delivered_date = delivered.date_day
),

shipped as (
    select
        shipped_week as iso_week_label,
        scope_type,
        scope_value,
        sum(logistics_cost_cny) as logistics_cost_cny,
        sum(case when is_first_shipment then order_gmv_cny else 0 end) as shipped_gmv_cny
    from scoped
    group by shipped_week, scope_type, scope_value
),

delivered as (
    select
        delivered_week as iso_week_label,
        scope_type,
        scope_value,
        count_if(is_on_time) as on_time_shipments,
        count(*) as delivered_shipments
    from scoped
    where is_delivered
    group by delivered_week, scope_type, scope_value
),

keys as (
    select
        iso_week_label,
        scope_type,
        scope_value
    from shipped
    union
    select
        iso_week_label,
        scope_type,
        scope_value
    from delivered
),

final as (
    select
        keys.iso_week_label,
        keys.scope_type,
        keys.scope_value,
        cast(coalesce(shipped.logistics_cost_cny, 0) as decimal(18, 2)) as logistics_cost_cny,
        cast(coalesce(shipped.shipped_gmv_cny, 0) as decimal(18, 2)) as shipped_gmv_cny,
        cast(shipped.logistics_cost_cny as double)
        / nullif(cast(shipped.shipped_gmv_cny as double), 0) as logistics_cost_share,
        coalesce(delivered.on_time_shipments, 0) as on_time_shipments,
        coalesce(delivered.delivered_shipments, 0) as delivered_shipments,
        cast(delivered.on_time_shipments / nullif(delivered.delivered_shipments, 0) as double)
            as on_time_delivery_rate
    from keys
    inner join weeks on keys.iso_week_label = weeks.iso_week_label
    left join shipped
        on
            keys.iso_week_label = shipped.iso_week_label
            and keys.scope_type = shipped.scope_type
            and keys.scope_value = shipped.scope_value
    left join delivered
        on
            keys.iso_week_label = delivered.iso_week_label
            and keys.scope_type = delivered.scope_type
            and keys.scope_value = delivered.scope_value
)

{{ select_changed_weeks('final') }}
