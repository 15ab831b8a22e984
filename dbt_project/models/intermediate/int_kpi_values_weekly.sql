-- depends_on: {{ ref('kpi_catalogue') }} (its relationships test runs with this model in Airflow)
-- A table, not a view: the weekly review, the movers and three data tests read it, and a view
-- would union every KPI mart again for each of them.
{{ config(materialized='table') }}
-- Every KPI of the weekly review in one shape: week x KPI x scope, value, numerator and
-- denominator (money and counts exact in the numerator). Most come straight from a weekly
-- KPI mart, as the registry says (conf/targets.yaml, `from`: macros/kpi_registry.sql). Cohort
-- KPIs (LTV/CAC, first-year survival) show, in each week, the latest cohort whose window had
-- ended by the week's Sunday; merchants_in_tier counts the tiers mart's merchants per tier; an
-- A/B test's treatment conversion shows in the week its readout concludes.
with weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

ltv as (
    select * from {{ ref('kpi_ltv_cohort_monthly') }}
),

survival as (
    select * from {{ ref('kpi_merchant_survival_monthly') }}
),

ab_conversion as (
    select * from {{ ref('mart_ab_conversion') }}
),

values_union as (
    -- the KPIs read straight from a weekly KPI mart (conf/targets.yaml's `from`)
    {%- for k in kpi_registry() %}
        select
            iso_week_label,
            '{{ k.kpi }}' as kpi,
            scope_type,
            scope_value,
            cast({{ k.value }} as double) as value,
            cast({{ k.numerator }} as decimal(38, 2)) as numerator,
            cast({{ k.denominator }} as decimal(38, 2)) as denominator
        from {{ ref(k.mart) }}
        where {{ k.where }}
        union all
    {%- endfor %}
    -- and the KPIs shaped here
    select
        iso_week_label,
        'merchants_in_tier' as kpi,
        'merchant_tier' as scope_type,
        tier as scope_value,
        cast(count(*) as double) as value,
        cast(count(*) as decimal(38, 2)) as numerator,
        cast(null as decimal(38, 2)) as denominator
    from {{ ref('kpi_merchant_tiers_weekly') }}
    group by iso_week_label, tier
    {%- for n in [90, 365] %}
        union all
        select
            weeks.iso_week_label,
            'ltv_cac_{{ n }}d' as kpi,
            ltv.scope_type,
            ltv.scope_value,
            ltv.ltv_cac_{{ n }}d as value,
            cast(ltv.cohort_gmv_{{ n }}d_cny as decimal(38, 2)) as numerator,
            cast(ltv.spend_cny as decimal(38, 2)) as denominator
        from weeks
        inner join ltv
            on
                date_add(last_day(ltv.cohort_month), {{ n }}) <= weeks.week_end_date
                and date_add(last_day(add_months(ltv.cohort_month, 1)), {{ n }})
                > weeks.week_end_date
    {%- endfor %}
    union all
    select
        weeks.iso_week_label,
        'first_year_survival' as kpi,
        'all' as scope_type,
        'all' as scope_value,
        survival.first_year_survival as value,
        cast(survival.numerator as decimal(38, 2)) as numerator,
        cast(survival.denominator as decimal(38, 2)) as denominator
    from weeks
    inner join survival
        on
            date_add(last_day(survival.cohort_month), 365) <= weeks.week_end_date
            and date_add(last_day(add_months(survival.cohort_month, 1)), 365)
            > weeks.week_end_date
    union all
    -- an A/B test's treatment conversion, in the week its readout concludes
    select
        concluded_week as iso_week_label,
        'ab_treatment_conversion' as kpi,
        'experiment' as scope_type,
        experiment_id as scope_value,
        conversion_rate as value,
        cast(converted_users as decimal(38, 2)) as numerator,
        cast(exposed_users as decimal(38, 2)) as denominator
    from ab_conversion
    where variant = 'treatment' and concluded_week is not null
)

select values_union.*
from values_union
inner join weeks on values_union.iso_week_label = weeks.iso_week_label
