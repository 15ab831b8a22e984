-- GMV, paid orders, AOV and COGS per ISO week (Asia/Shanghai) and scope; refunds and net sales
-- (GMV - refunds, refunds in the week of refunded_at at the paid date's rate) for the scopes an
-- order has as a whole (all, segment, city tier, channel, merchant size), null for product
-- scopes (a refund is not split by line). A refund takes its scope as it was when refunded.
with lines as (
    select * from {{ ref('int_order_items_scoped') }}
    where {{ reaches_changed_weeks('paid_date') }}
),

refund_scopes as (
    -- the refunds' scopes, as far back as the refunds are read (event_date = refunded_date)
    select * from {{ ref('int_order_events_scoped') }}
    where event_kind = 'refund' and {{ reaches_changed_weeks('event_date') }}
),

refunds as (
    select * from {{ ref('int_refunds_converted') }}
    where {{ reaches_changed_weeks('refunded_date') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

gmv as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        sum(line_gmv_cny) as gmv_cny,
        sum(line_cogs_cny) as cogs_cny,
        count(distinct order_id) as paid_orders
    from lines
    group by iso_week_label, scope_type, scope_value
),

refunded as (
    select
        dates.iso_week_label,
        refund_scopes.scope_type,
        refund_scopes.scope_value,
        sum(refunds.refund_cny) as refunds_cny
    from refunds
    inner join refund_scopes on refunds.refund_id = refund_scopes.event_id
    inner join dates on refunds.refunded_date = dates.date_day
    group by dates.iso_week_label, refund_scopes.scope_type, refund_scopes.scope_value
),

weeks as (
    select
        iso_week_label,
        min(week_start_date) as week_start_date,
        min(week_end_date) as week_end_date
    from dates
    group by iso_week_label
),

keys as (
    select
        iso_week_label,
        scope_type,
        scope_value
    from gmv
    union
    select
        iso_week_label,
        scope_type,
        scope_value
    from refunded
),

final as (
    select
        keys.iso_week_label,
        weeks.week_start_date,
        weeks.week_end_date,
        keys.scope_type,
        keys.scope_value,
        cast(coalesce(gmv.gmv_cny, 0) as decimal(18, 2)) as gmv_cny,
        case
            when keys.scope_type not in ('category', 'pilot_category')
                then cast(coalesce(refunded.refunds_cny, 0) as decimal(18, 2))
        end as refunds_cny,
        case
            when keys.scope_type not in ('category', 'pilot_category')
                then cast(
                    coalesce(gmv.gmv_cny, 0) - coalesce(refunded.refunds_cny, 0)
                    as decimal(18, 2)
                )
        end as net_sales_cny,
        coalesce(gmv.paid_orders, 0) as paid_orders,
        cast(gmv.gmv_cny / nullif(gmv.paid_orders, 0) as decimal(18, 2)) as aov_cny,
        cast(coalesce(gmv.cogs_cny, 0) as decimal(18, 2)) as cogs_cny
    from keys
    inner join weeks on keys.iso_week_label = weeks.iso_week_label
    left join gmv
        on
            keys.iso_week_label = gmv.iso_week_label
            and keys.scope_type = gmv.scope_type
            and keys.scope_value = gmv.scope_value
    left join refunded
        on
            keys.iso_week_label = refunded.iso_week_label
            and keys.scope_type = refunded.scope_type
            and keys.scope_value = refunded.scope_value
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
