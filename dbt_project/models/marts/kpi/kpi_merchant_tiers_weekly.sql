-- Merchant capability tiers per ISO week (the plan's grading): S/A/B/C by trailing-90-day GMV
-- quartile within merchant size (size at the end of the week; ties broken by merchant id),
-- moved down one tier when the merchant's on-time delivery over those 90 days is under 90% or
-- its SMB repurchase rate is in the bottom quartile of SMB merchants that week. Only weeks
-- whose 90 days are covered; only merchants with GMV in the window.
with lines as (
    select
        merchant_id,
        paid_date,
        sum(line_gmv_cny) as gmv_cny
    from {{ ref('fct_order_items') }}
    where is_paid and {{ reaches_changed_weeks('paid_date', 90) }}
    group by merchant_id, paid_date
),

deliveries as (
    select
        orders.merchant_id,
        shipments.delivered_date,
        count_if(shipments.is_on_time) as on_time,
        count(*) as delivered
    from {{ ref('fct_shipments') }} as shipments
    inner join {{ ref('fct_orders') }} as orders on shipments.order_id = orders.order_id
    where shipments.is_delivered and {{ reaches_changed_weeks('shipments.delivered_date', 90) }}
    group by orders.merchant_id, shipments.delivered_date
),

-- each customer-merchant pair's paid days in each window (int_paid_days_by_window's scope
-- `all`, without the SCD2 joins of its other scopes)
paid_day_windows as (
    {{ paid_day_windows(90) }}
),

pairs as (
    select
        window_end_date,
        merchant_id,
        user_id,
        count(distinct paid_date) as paid_days
    from paid_day_windows
    where {{ is_changed_week('window_end_date') }}
    group by window_end_date, merchant_id, user_id
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
    where date_sub(week_end_date, 89) >= first_data_date and {{ is_changed_week('week_end_date') }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

gmv_90d as (
    select
        window_end_date,
        merchant_id,
        sum(gmv_cny) as gmv_90d_cny
    from (select
        lines.*,
        {{ windows_holding('paid_date', 90) }} as window_end_date
    from lines)
    group by window_end_date, merchant_id
),

on_time_90d as (
    select
        window_end_date,
        merchant_id,
        sum(on_time) / sum(delivered) as on_time_rate_90d
    from (
        select
            deliveries.*,
            {{ windows_holding('delivered_date', 90) }} as window_end_date
        from deliveries
    )
    group by window_end_date, merchant_id
),

repurchase_90d as (
    select
        window_end_date,
        merchant_id,
        count_if(paid_days >= 2) / count(*) as repurchase_90d
    from pairs
    group by window_end_date, merchant_id
),

graded as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        gmv_90d.merchant_id,
        merchants.merchant_size,
        gmv_90d.gmv_90d_cny,
        on_time_90d.on_time_rate_90d,
        if(merchants.merchant_size = 'SMB', repurchase_90d.repurchase_90d, null)
            as smb_repurchase_90d,
        ntile(4) over (
            partition by weeks.iso_week_label, merchants.merchant_size
            order by gmv_90d.gmv_90d_cny desc, gmv_90d.merchant_id asc
        ) as gmv_quartile
    from gmv_90d
    inner join weeks on gmv_90d.window_end_date = weeks.week_end_date
    left join merchants
        on
            gmv_90d.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', end_of_day('weeks.week_end_date')) }}
    left join on_time_90d
        on
            gmv_90d.window_end_date = on_time_90d.window_end_date
            and gmv_90d.merchant_id = on_time_90d.merchant_id
    left join repurchase_90d
        on
            gmv_90d.window_end_date = repurchase_90d.window_end_date
            and gmv_90d.merchant_id = repurchase_90d.merchant_id
),

smb_ranked as (
    select
        graded.*,
        case
            when graded.smb_repurchase_90d is not null
                then ntile(4) over (
                    partition by graded.iso_week_label, graded.smb_repurchase_90d is not null
                    order by graded.smb_repurchase_90d, graded.merchant_id
                )
        end as smb_repurchase_quartile
    from graded
),

final as (
    select
        iso_week_label,
        week_end_date,
        merchant_id,
        merchant_size,
        cast(gmv_90d_cny as decimal(18, 2)) as gmv_90d_cny,
        gmv_quartile,
        cast(on_time_rate_90d as double) as on_time_rate_90d,
        cast(smb_repurchase_90d as double) as smb_repurchase_90d,
        smb_repurchase_quartile,
        coalesce(on_time_rate_90d < 0.9, false) or coalesce(smb_repurchase_quartile = 1, false)
            as is_downgraded,
        element_at(
            array('S', 'A', 'B', 'C'),
            least(
                4,
                gmv_quartile
                + if(
                    coalesce(on_time_rate_90d < 0.9, false)
                    or coalesce(smb_repurchase_quartile = 1, false),
                    1,
                    0
                )
            )
        ) as tier
    from smb_ranked
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
