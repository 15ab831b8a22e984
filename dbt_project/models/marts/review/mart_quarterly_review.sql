-- The quarterly review (PLAN.md "The rest of the plan"): one row per calendar quarter x KPI x
-- scope, from the quarterly marts: GMV and its growth year on year (category growth), the
-- average rating and the share of 1-2 star reviews (user feedback), merchant NPS (merchant
-- satisfaction) and the first-year survival of the cohorts the quarter concludes; with the
-- previous quarter's value, the change, and the plan's target and RAG where conf/targets.yaml
-- names that KPI and scope (the weekly review's rule, macro rag).
with growth as (
    select * from {{ ref('mart_quarterly_category_growth') }}
),

ratings as (
    select * from {{ ref('mart_quarterly_ratings') }}
),

nps as (
    select * from {{ ref('mart_quarterly_merchant_nps') }}
),

survival as (
    select * from {{ ref('mart_quarterly_survival') }}
),

bounds as (
    select max(to_date(created_at)) as last_data_date from {{ ref('fct_orders') }}
),

catalogue as (
    select * from {{ ref('kpi_catalogue') }}
),

targets as (
    select * from {{ ref('kpi_targets') }}
),

kpi_values as (
    select
        quarter_label,
        'quarter_gmv' as kpi,
        scope_type,
        scope_value,
        cast(gmv_cny as double) as value,
        cast(gmv_cny as decimal(38, 2)) as numerator,
        cast(null as decimal(38, 2)) as denominator
    from growth
    union all
    select
        quarter_label,
        'quarter_gmv_yoy_growth' as kpi,
        scope_type,
        scope_value,
        gmv_yoy_growth as value,
        cast(gmv_cny as decimal(38, 2)) as numerator,
        cast(gmv_last_year_cny as decimal(38, 2)) as denominator
    from growth
    union all
    select
        quarter_label,
        'average_rating' as kpi,
        scope_type,
        scope_value,
        average_rating as value,
        cast(rating_sum as decimal(38, 2)) as numerator,
        cast(reviews as decimal(38, 2)) as denominator
    from ratings
    union all
    select
        quarter_label,
        'poor_review_share' as kpi,
        scope_type,
        scope_value,
        poor_share as value,
        cast(poor_reviews as decimal(38, 2)) as numerator,
        cast(reviews as decimal(38, 2)) as denominator
    from ratings
    union all
    select
        quarter_label,
        'merchant_nps' as kpi,
        scope_type,
        scope_value,
        nps as value,
        cast(promoters - detractors as decimal(38, 2)) as numerator,
        cast(responses as decimal(38, 2)) as denominator
    from nps
    union all
    select
        quarter_label,
        'quarter_first_year_survival' as kpi,
        'all' as scope_type,
        'all' as scope_value,
        {{ ratio('sum(survivors)', 'sum(merchants)') }} as value,
        cast(sum(survivors) as decimal(38, 2)) as numerator,
        cast(sum(merchants) as decimal(38, 2)) as denominator
    from survival
    group by quarter_label
),

dated as (
    select
        *,
        make_date(
            cast(substr(quarter_label, 1, 4) as int),
            3 * cast(substr(quarter_label, 6, 1) as int) - 2,
            1
        ) as quarter_start_date
    from kpi_values
),

judged as (
    select
        this_quarter.quarter_label,
        this_quarter.quarter_start_date,
        date_sub(add_months(this_quarter.quarter_start_date, 3), 1) as quarter_end_date,
        this_quarter.kpi,
        catalogue.name_en as kpi_name_en,
        catalogue.name_zh as kpi_name_zh,
        catalogue.unit,
        this_quarter.scope_type,
        this_quarter.scope_value,
        this_quarter.value,
        this_quarter.numerator,
        this_quarter.denominator,
        previous_quarter.value as previous_value,
        targets.direction,
        targets.target,
        targets.band_low,
        targets.band_high,
        targets.baseline,
        targets.plan as target_plan_text
    from dated as this_quarter
    inner join catalogue on this_quarter.kpi = catalogue.kpi
    left join dated as previous_quarter
        on
            this_quarter.kpi = previous_quarter.kpi
            and this_quarter.scope_type = previous_quarter.scope_type
            and this_quarter.scope_value = previous_quarter.scope_value
            and add_months(this_quarter.quarter_start_date, -3)
            = previous_quarter.quarter_start_date
    left join targets
        on
            this_quarter.kpi = targets.kpi
            and this_quarter.scope_type = targets.scope_type
            and this_quarter.scope_value = targets.scope_value
)

select
    judged.quarter_label,
    judged.quarter_start_date,
    judged.quarter_end_date,
    judged.quarter_end_date <= bounds.last_data_date as is_complete_quarter,
    judged.kpi,
    judged.kpi_name_en,
    judged.kpi_name_zh,
    judged.unit,
    judged.scope_type,
    judged.scope_value,
    judged.value,
    judged.numerator,
    judged.denominator,
    judged.previous_value,
    case
        when judged.unit = 'rate' then (judged.value - judged.previous_value) * 100
        else judged.value - judged.previous_value
    end as change,
    case when judged.unit in ('rate', 'pct') then 'pp' else judged.unit end as change_unit,
    judged.direction,
    judged.target,
    judged.band_low,
    judged.band_high,
    judged.baseline,
    judged.target_plan_text,
    {{ rag('judged') }} as rag
from judged
cross join bounds
