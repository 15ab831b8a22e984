-- depends_on: {{ ref('kpi_catalogue') }} (its relationships test runs with this model in Airflow)
-- A table, not a view: the weekly review, the movers and three data tests read it, and a view
-- would union every KPI mart again for each of them.
{{ config(materialized='table') }}
-- Every KPI of the weekly review in one shape: week x KPI x scope, value, numerator and
-- denominator (money and counts exact in the numerator). Cohort KPIs (LTV/CAC, first-year
-- survival) show, in each week, the latest cohort whose window had ended by the week's Sunday.
{% set rate_rows = [
    ('kpi_nonstandard_share_weekly', 'nonstandard_share', 'nonstandard_share',
     'numerator_cny', 'denominator_cny'),
    ('kpi_channel_penetration_weekly', 'channel_penetration', 'channel_penetration',
     'numerator_cny', 'denominator_cny'),
    ('kpi_repurchase_weekly', 'repurchase_rate_90d', 'repurchase_rate', 'numerator',
     'denominator'),
    ('kpi_smb_repurchase_weekly', 'smb_repurchase_rate_90d', 'repurchase_rate', 'numerator',
     'denominator'),
    ('kpi_sku_overlap_weekly', 'sku_overlap_rate', 'sku_overlap_rate', 'numerator',
     'denominator'),
    ('kpi_logistics_weekly', 'logistics_cost_share', 'logistics_cost_share',
     'logistics_cost_cny', 'shipped_gmv_cny'),
    ('kpi_logistics_weekly', 'on_time_delivery_rate', 'on_time_delivery_rate',
     'on_time_shipments', 'delivered_shipments'),
    ('kpi_smart_device_60plus_weekly', 'smart_device_penetration_60plus',
     'smart_device_penetration', 'numerator', 'denominator'),
    ('kpi_cac_weekly', 'cac', 'cac_cny', 'spend_cny', 'new_customers'),
    ('kpi_cac_weekly', 'new_customers', 'new_customers', 'new_customers', 'null'),
    ('kpi_gmv_weekly', 'gmv', 'gmv_cny', 'gmv_cny', 'null'),
    ('kpi_gmv_weekly', 'net_sales', 'net_sales_cny', 'net_sales_cny', 'null'),
    ('kpi_gmv_weekly', 'paid_orders', 'paid_orders', 'paid_orders', 'null'),
    ('kpi_gmv_weekly', 'aov', 'aov_cny', 'gmv_cny', 'paid_orders'),
    ('kpi_aov_segment_weekly', 'aov_uplift', 'aov_uplift', 'aov_cny', 'baseline_aov_cny'),
] -%}
with weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

ltv as (
    select * from {{ ref('kpi_ltv_cohort_monthly') }}
),

survival as (
    select * from {{ ref('kpi_merchant_survival_monthly') }}
),

values_union as (
    {%- for model, kpi, value, num, den in rate_rows %}
        select
            iso_week_label,
            '{{ kpi }}' as kpi,
            scope_type,
            scope_value,
            cast({{ value }} as double) as value,
            cast({{ num }} as decimal(38, 2)) as numerator,
            cast({{ den }} as decimal(38, 2)) as denominator
        from {{ ref(model) }}
        {%- if kpi == 'net_sales' %}
            where net_sales_cny is not null
        {%- endif %}
        union all
    {%- endfor %}
    select
        iso_week_label,
        'inventory_turnover_pct' as kpi,
        scope_type,
        scope_value,
        inventory_turnover_pct as value,
        cast(cogs_30d_cny as decimal(38, 2)) as numerator,
        cast(avg_inventory_value_cny as decimal(38, 2)) as denominator
    from {{ ref('kpi_inventory_turnover_weekly') }}
    where scope_type in ('all', 'merchant_size')
    union all
    {%- for kpi, value, num, den, where in [
        ('pilot_gmv', 'gmv_cny', 'gmv_cny', 'null', "scope_value <> 'reserve'"),
        ('pilot_gmv_yoy_growth', 'gmv_yoy_growth', 'gmv_cny', 'gmv_last_year_cny',
         "scope_value <> 'reserve'"),
        ('pilot_gross_margin_rate', 'gross_margin_rate', 'gross_margin_cny', 'gmv_cny',
         "scope_value <> 'reserve'"),
        ('pilot_gmv_split', 'gmv_split', 'gmv_cny', 'null',
         "scope_value not in ('all', 'reserve')"),
        ('budget_split', 'budget_split', 'spend_cny', 'null', "scope_value <> 'all'"),
    ] %}
        select
            iso_week_label,
            '{{ kpi }}' as kpi,
            scope_type,
            scope_value,
            cast({{ value }} as double) as value,
            cast({{ num }} as decimal(38, 2)) as numerator,
            cast({{ den }} as decimal(38, 2)) as denominator
        from {{ ref('kpi_pilot_weekly') }}
        where {{ where }}
        union all
    {%- endfor %}
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
)

select values_union.*
from values_union
inner join weeks on values_union.iso_week_label = weeks.iso_week_label
