-- AOV per ISO week by segment (and overall) against the segment's own baseline: its AOV over
-- the first 13 ISO weeks of data. The plan's target: Gen-Z pet owners +20%. Null uplift
-- during the baseline weeks.
with gmv as (
    select * from {{ ref('kpi_gmv_weekly') }}
    where scope_type in ('all', 'segment')
),

weeks as (
    select
        iso_week_label,
        row_number() over (order by week_start_date) as week_no
    from {{ ref('int_weeks_covered') }}
),

baseline as (
    select
        gmv.scope_type,
        gmv.scope_value,
        {{ ratio('sum(gmv.gmv_cny)', 'sum(gmv.paid_orders)') }} as baseline_aov_cny
    from gmv
    inner join weeks on gmv.iso_week_label = weeks.iso_week_label
    where weeks.week_no <= 13
    group by gmv.scope_type, gmv.scope_value
),

final as (
    select
        gmv.iso_week_label,
        gmv.scope_type,
        gmv.scope_value,
        gmv.gmv_cny,
        gmv.paid_orders,
        gmv.aov_cny,
        cast(baseline.baseline_aov_cny as decimal(18, 2)) as baseline_aov_cny,
        case
            when weeks.week_no > 13
                then {{ ratio('gmv.gmv_cny', 'gmv.paid_orders') }} / baseline.baseline_aov_cny - 1
        end as aov_uplift
    from gmv
    inner join weeks on gmv.iso_week_label = weeks.iso_week_label
    left join baseline
        on gmv.scope_type = baseline.scope_type and gmv.scope_value = baseline.scope_value
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
