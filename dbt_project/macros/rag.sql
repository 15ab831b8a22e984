{#
  The plan's RAG of a value against its target (conf/targets.yaml): higher/lower: green when
  the target is met, amber within 10% (relative) of it, red otherwise; band: green inside
  [band_low, band_high], amber within 10% of the nearer edge. Null value or no target -> null.
  The weekly and the quarterly review judge with this one rule.
#}
{% macro rag(t) -%}
case
            when {{ t }}.direction is null or {{ t }}.value is null then null
            when {{ t }}.direction = 'higher' and {{ t }}.value >= {{ t }}.target then 'green'
            when
                {{ t }}.direction = 'higher'
                and {{ t }}.value >= {{ t }}.target - 0.1 * abs({{ t }}.target)
                then 'amber'
            when {{ t }}.direction = 'lower' and {{ t }}.value <= {{ t }}.target then 'green'
            when
                {{ t }}.direction = 'lower'
                and {{ t }}.value <= {{ t }}.target + 0.1 * abs({{ t }}.target)
                then 'amber'
            when
                {{ t }}.direction = 'band'
                and {{ t }}.value between {{ t }}.band_low and {{ t }}.band_high
                then 'green'
            when
                {{ t }}.direction = 'band'
                and {{ t }}.value >= {{ t }}.band_low - 0.1 * abs({{ t }}.band_low)
                and {{ t }}.value <= {{ t }}.band_high + 0.1 * abs({{ t }}.band_high)
                then 'amber'
            else 'red'
        end
{%- endmacro %}
