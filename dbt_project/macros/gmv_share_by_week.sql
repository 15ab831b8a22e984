{# A share-of-GMV KPI per ISO week and scope: GMV of paid lines where `flag` holds / GMV. #}
{% macro gmv_share_by_week(flag, share_name, exclude_scopes=[]) %}
with lines as (
    select * from {{ ref('int_order_items_scoped') }}
    where
        {{ reaches_changed_weeks('paid_date') }}
        {%- if exclude_scopes %}
        and scope_type not in ('{{ exclude_scopes | join("', '") }}')
        {%- endif %}
),

by_week as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        sum(case when {{ flag }} then line_gmv_cny else 0 end) as flagged_gmv_cny,
        sum(line_gmv_cny) as gmv_cny
    from lines
    group by iso_week_label, scope_type, scope_value
),

final as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        cast(flagged_gmv_cny as decimal(18, 2)) as numerator_cny,
        cast(gmv_cny as decimal(18, 2)) as denominator_cny,
        cast(flagged_gmv_cny as double) / nullif(cast(gmv_cny as double), 0) as {{ share_name }}
    from by_week
)

{{ select_changed_weeks('final') }}
{% endmacro %}
