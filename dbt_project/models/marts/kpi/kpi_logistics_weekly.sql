-- Logistics per ISO week and order-level scope: cost share (cost of shipments shipped in the
-- week / GMV of their orders, each order once, in its first shipment's week) and on-time
-- delivery (shipments delivered in the week by their promised time / shipments delivered).
-- A shipment takes its scope as it was when shipped (cost, and its order's GMV when it is the
-- order's first shipment), a delivery as it was when delivered.
with shipments as (
    select * from {{ ref('fct_shipments') }}
    where
        {{ reaches_changed_weeks('shipped_date') }}
        or {{ reaches_changed_weeks('delivered_date') }}
),

orders as (
    -- the paid orders with lines (those int_order_items_paid holds), with their GMV
    select
        order_id,
        order_gmv_cny
    from {{ ref('fct_orders') }}
    where is_paid and n_lines > 0
),

event_scopes as (
    select * from {{ ref('int_order_events_scoped') }}
    where
        event_kind in ('shipped', 'delivered')
        and {{ reaches_changed_weeks('event_date') }}
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
        event_scopes.event_kind,
        event_scopes.scope_type,
        event_scopes.scope_value,
        orders.order_gmv_cny,
        dates.iso_week_label as event_week
    from shipments
    inner join orders on shipments.order_id = orders.order_id
    inner join event_scopes on shipments.shipment_id = event_scopes.event_id
    inner join dates on event_scopes.event_date = dates.date_day
),

shipped as (
    select
        event_week as iso_week_label,
        scope_type,
        scope_value,
        sum(logistics_cost_cny) as logistics_cost_cny,
        sum(case when is_first_shipment then order_gmv_cny else 0 end) as shipped_gmv_cny
    from scoped
    where event_kind = 'shipped'
    group by event_week, scope_type, scope_value
),

delivered as (
    select
        event_week as iso_week_label,
        scope_type,
        scope_value,
        count_if(is_on_time) as on_time_shipments,
        count(*) as delivered_shipments
    from scoped
    where event_kind = 'delivered'
    group by event_week, scope_type, scope_value
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

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
