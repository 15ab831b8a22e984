{#
  Repurchase per ISO week from int_paid_days_by_window: entities (customers, or customer-
  merchant pairs) with paid orders on 2+ distinct days in the 90 days ending on the week's
  Sunday / entities with 1+; null until the window is covered by data.
#}
{% macro repurchase_by_week(entity_cols, where='true', scope_type=none) %}
with paid_days as (
    select * from {{ ref('int_paid_days_by_window') }}
    where
        {{ where }}
        and {{ reaches_changed_weeks('paid_date', 90) }}
        and {{ is_changed_week('window_end_date') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
    where {{ is_changed_week('week_end_date') }}
),

per_entity as (
    select
        window_end_date,
        {{ "'" ~ scope_type ~ "' as scope_type" if scope_type else 'scope_type' }},
        {{ "'all' as scope_value" if scope_type else 'scope_value' }},
        {{ entity_cols | join(', ') }},
        count(distinct paid_date) as paid_days
    from paid_days
    group by window_end_date, 2, 3, {{ entity_cols | join(', ') }}
),

by_week as (
    select
        window_end_date,
        scope_type,
        scope_value,
        count_if(paid_days >= 2) as repeaters,
        count(*) as active
    from per_entity
    group by window_end_date, scope_type, scope_value
),

final as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        by_week.scope_type,
        by_week.scope_value,
        date_sub(weeks.week_end_date, 89) >= weeks.first_data_date as is_window_covered,
        by_week.repeaters,
        by_week.active
    from weeks
    inner join by_week on weeks.week_end_date = by_week.window_end_date
),

kpi as (
    select
        iso_week_label,
        week_end_date,
        scope_type,
        scope_value,
        is_window_covered,
        if(is_window_covered, repeaters, null) as numerator,
        if(is_window_covered, active, null) as denominator,
        if(
            is_window_covered, cast(repeaters / nullif(active, 0) as double), null
        ) as repurchase_rate
    from final
)

{{ select_changed_weeks('kpi') }}
{% endmacro %}
