-- Logistics per ISO week: cost share (cost of shipments shipped in the week / GMV of their
-- orders, each order once, in its first shipment's week) and on-time delivery (shipments
-- delivered in the week by their promised time / shipments delivered in the week).
with shipments as (
    select * from {{ ref('stg_logistics__shipments') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

first_shipments as (
    select
        order_id,
        to_date(min(shipped_at)) as first_shipped_date
    from shipments
    group by order_id
),

cost_by_week as (
    select
        weeks.iso_week_label,
        sum(shipments.logistics_cost_cny) as logistics_cost_cny
    from shipments
    inner join weeks
        on to_date(shipments.shipped_at) between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
),

gmv_by_week as (
    select
        weeks.iso_week_label,
        sum(orders.order_gmv_cny) as shipped_gmv_cny
    from first_shipments
    inner join orders on first_shipments.order_id = orders.order_id
    inner join weeks
        on first_shipments.first_shipped_date between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
),

delivered_by_week as (
    select
        weeks.iso_week_label,
        count_if(shipments.delivered_at <= shipments.promised_at) as on_time_shipments,
        count(*) as delivered_shipments
    from shipments
    inner join weeks
        on to_date(shipments.delivered_at) between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
),

final as (
    select
        weeks.iso_week_label,
        cast(coalesce(cost_by_week.logistics_cost_cny, 0) as decimal(18, 2))
            as logistics_cost_cny,
        cast(coalesce(gmv_by_week.shipped_gmv_cny, 0) as decimal(18, 2)) as shipped_gmv_cny,
        cast(cost_by_week.logistics_cost_cny as double)
        / nullif(cast(gmv_by_week.shipped_gmv_cny as double), 0) as logistics_cost_share,
        coalesce(delivered_by_week.on_time_shipments, 0) as on_time_shipments,
        coalesce(delivered_by_week.delivered_shipments, 0) as delivered_shipments,
        cast(
            delivered_by_week.on_time_shipments / nullif(delivered_by_week.delivered_shipments, 0)
            as double
        ) as on_time_delivery_rate
    from weeks
    left join cost_by_week on weeks.iso_week_label = cost_by_week.iso_week_label
    left join gmv_by_week on weeks.iso_week_label = gmv_by_week.iso_week_label
    left join delivered_by_week on weeks.iso_week_label = delivered_by_week.iso_week_label
)

select * from final
