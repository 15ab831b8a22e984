{# The Sundays whose `days`-day window (ending on that Sunday) holds `date_col`. #}
{% macro windows_holding(date_col, days) -%}
explode(sequence(
    next_day(date_sub({{ date_col }}, 1), 'SU'),
    date_add({{ date_col }}, {{ days - 1 }}),
    interval 7 days
))
{%- endmacro %}
