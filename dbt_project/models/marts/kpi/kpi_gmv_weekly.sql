-- GMV, net sales, paid orders and AOV per ISO week (Asia/Shanghai), as ../shared/PLAN.md defines.
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

refunds as (
    select * from {{ ref('int_refunds_converted') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

gmv_by_week as (
    select
        iso_week_label,
        sum(line_gmv_cny) as gmv_cny,
        count(distinct order_id) as paid_orders
    from lines
    group by iso_week_label
),

refunds_by_week as (
    select
        dates.iso_week_label,
        sum(refunds.refund_cny) as refunds_cny
    from refunds
    inner join dates on refunds.refunded_date = dates.date_day
    group by dates.iso_week_label
),

weeks as (
    select
        iso_week_label,
        min(week_start_date) as week_start_date,
        min(week_end_date) as week_end_date
    from dates
    group by iso_week_label
),

final as (
    select
        weeks.iso_week_label,
        weeks.week_start_date,
        weeks.week_end_date,
        cast(coalesce(gmv_by_week.gmv_cny, 0) as decimal(18, 2)) as gmv_cny,
        cast(coalesce(refunds_by_week.refunds_cny, 0) as decimal(18, 2)) as refunds_cny,
        cast(
            coalesce(gmv_by_week.gmv_cny, 0) - coalesce(refunds_by_week.refunds_cny, 0)
            as decimal(18, 2)
        ) as net_sales_cny,
        coalesce(gmv_by_week.paid_orders, 0) as paid_orders,
        cast(
            gmv_by_week.gmv_cny / nullif(gmv_by_week.paid_orders, 0) as decimal(18, 2)
        ) as aov_cny
    from weeks
    left join gmv_by_week on weeks.iso_week_label = gmv_by_week.iso_week_label
    left join refunds_by_week on weeks.iso_week_label = refunds_by_week.iso_week_label
    where gmv_by_week.iso_week_label is not null or refunds_by_week.iso_week_label is not null
)

select * from final
