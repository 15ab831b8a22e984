-- The weekly review (PLAN.md): one row per ISO week x KPI x scope ("all" plus one scope
-- dimension at a time), with value, numerator, denominator, the previous ISO week's value, the
-- change (percentage points for rates and percentages, the unit's difference otherwise, and
-- relative), and the plan's target and RAG where conf/targets.yaml names that KPI and scope.
-- RAG: green meets the target; amber within 10% (relative) of it; red otherwise; a band is
-- green inside it. Null value -> null RAG.
with kpi_values as (
    select * from {{ ref('int_kpi_values_weekly') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
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

with_previous as (
    select
        this_week.*,
        weeks.week_start_date,
        weeks.week_end_date,
        previous_week.value as previous_value,
        previous_week.numerator as previous_numerator,
        previous_week.denominator as previous_denominator
    from kpi_values as this_week
    inner join weeks on this_week.iso_week_label = weeks.iso_week_label
    left join weeks as previous_weeks
        on previous_weeks.week_end_date = date_sub(weeks.week_end_date, 7)
    left join kpi_values as previous_week
        on
            previous_weeks.iso_week_label = previous_week.iso_week_label
            and this_week.kpi = previous_week.kpi
            and this_week.scope_type = previous_week.scope_type
            and this_week.scope_value = previous_week.scope_value
),

judged as (
    select
        with_previous.*,
        catalogue.unit,
        catalogue.name_en as kpi_name_en,
        catalogue.name_zh as kpi_name_zh,
        targets.direction,
        targets.target,
        targets.band_low,
        targets.band_high,
        targets.baseline,
        targets.plan as target_plan_text
    from with_previous
    inner join catalogue on with_previous.kpi = catalogue.kpi
    left join targets
        on
            with_previous.kpi = targets.kpi
            and with_previous.scope_type = targets.scope_type
            and with_previous.scope_value = targets.scope_value
),

final as (
    select
        judged.iso_week_label,
        judged.week_start_date,
        judged.week_end_date,
        judged.week_end_date <= bounds.last_data_date as is_complete_week,
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
        judged.previous_numerator,
        judged.previous_denominator,
        case
            when judged.unit = 'rate' then (judged.value - judged.previous_value) * 100
            else judged.value - judged.previous_value
        end as change,
        case when judged.unit in ('rate', 'pct') then 'pp' else judged.unit end as change_unit,
        (judged.value - judged.previous_value) / nullif(abs(judged.previous_value), 0)
            as change_relative,
        judged.direction,
        judged.target,
        judged.band_low,
        judged.band_high,
        judged.baseline,
        judged.target_plan_text,
        {{ rag('judged') }} as rag
    from judged
    cross join bounds
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
