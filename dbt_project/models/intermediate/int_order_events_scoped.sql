-- Refunds, shipments and deliveries of paid orders, each once per order-level scope (all,
-- segments, city tier, channel, merchant size) as the scope was when the event happened
-- (PLAN.md: they take their scope as it was on the date their KPI is keyed by: refunded_at,
-- shipped_at, delivered_at), not when the order was paid. Age-based segments use the age in
-- the event's week (year of its last day - birth year).
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with orders as (
    -- the paid orders with lines (those int_order_items_paid holds): an event takes its
    -- scopes as of its own time, so the order's user, merchant and channel are all it needs
    select
        order_id,
        user_id,
        merchant_id,
        channel
    from {{ ref('fct_orders') }}
    where is_paid and n_lines > 0
),

refunds as (
    select * from {{ ref('int_refunds_converted') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

silver_tech as (
    select * from {{ ref('int_silver_tech_weekly') }}
),

events as (
    select
        'refund' as event_kind,
        refund_id as event_id,
        order_id,
        refunded_at as event_at
    from refunds
    union all
    select
        'shipped' as event_kind,
        shipment_id as event_id,
        order_id,
        shipped_at as event_at
    from shipments
    union all
    select
        'delivered' as event_kind,
        shipment_id as event_id,
        order_id,
        delivered_at as event_at
    from shipments
    where delivered_at is not null
),

joined as (
    select
        events.event_kind,
        events.event_id,
        events.order_id,
        events.event_at,
        to_date(events.event_at) as event_date,
        orders.channel,
        merchants.merchant_size,
        users.city_tier,
        {{ segment_flags('users', 'dates.week_end_date', 'silver_tech') }}
    from events
    inner join orders on events.order_id = orders.order_id
    inner join dates on to_date(events.event_at) = dates.date_day
    left join users
        on orders.user_id = users.user_id and {{ as_of('users', 'events.event_at') }}
    left join merchants
        on
            orders.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', 'events.event_at') }}
    left join silver_tech
        on
            orders.user_id = silver_tech.user_id
            and dates.week_end_date = silver_tech.week_end_date
),

exploded as (
    select
        joined.*,
        explode({{ scope_array(line_level=false) }}) as scope
    from joined
),

final as (
    select
        exploded.event_kind,
        exploded.event_id,
        exploded.order_id,
        exploded.event_at,
        exploded.event_date,
        exploded.scope.scope_type,
        exploded.scope.scope_value
    from exploded
)

select * from final
