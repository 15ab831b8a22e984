-- SKU overlap rate per ISO week, overall and by category: SPUs with paid items from 2 or more
-- merchants in the week / SPUs with paid items in the week (the plan watches 3C/appliances
-- and beauty).
with lines as (
    select * from {{ ref('int_order_items_scoped') }}
    where scope_type in ('all', 'category') and {{ reaches_changed_weeks('paid_date') }}
),

per_spu as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        spu_id,
        count(distinct merchant_id) as merchants
    from lines
    group by iso_week_label, scope_type, scope_value, spu_id
),

final as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        count_if(merchants >= 2) as numerator,
        count(*) as denominator,
        cast(count_if(merchants >= 2) / count(*) as double) as sku_overlap_rate
    from per_spu
    group by iso_week_label, scope_type, scope_value
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
