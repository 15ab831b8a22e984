{#
  A rate as a double: numerator / denominator, null when the denominator is 0 or null. Both
  sides are cast to double first: Spark's decimal division would keep only 6 decimals.
#}
{% macro ratio(numerator, denominator) -%}
(cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
