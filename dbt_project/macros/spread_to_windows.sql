{# The Sundays whose `days`-day window (ending on that Sunday) holds `date_col`. #}
{% macro windows_holding(date_col, days) -%}
explode(sequence(
    next_day(date_sub({{ date_col }}, 1), 'SU'),
    date_add({{ date_col }}, {{ days - 1 }}),
    interval 7 days
))
{%- endmacro %}

{#
  Each paid line's customer, merchant and paid date spread to the Sundays whose `days`-day
  window holds it, from the fact, as far back as the model's recomputed weeks reach: the paid
  days a repurchase rate of one scope counts, without the SCD2 joins that
  int_paid_days_by_window makes for every scope. A query, for a CTE of its own.
#}
{% macro paid_day_windows(days) -%}
select
        merchant_id,
        user_id,
        paid_date,
        {{ windows_holding('paid_date', days) }} as window_end_date
    from {{ ref('fct_order_items') }}
    where is_paid and {{ reaches_changed_weeks('paid_date', days) }}
{%- endmacro %}
