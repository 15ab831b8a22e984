-- Emerging channels' penetration per ISO week and scope: GMV via live_stream, kol,
-- community_group / GMV (not by channel, where it would be 0 or 1 by construction).
with lines as (
    select * from {{ ref('int_order_items_scoped') }}
    where
        {{ reaches_changed_weeks('paid_date') }}
        and scope_type != 'channel'
),

by_week as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        sum(case when is_emerging_channel then line_gmv_cny else 0 end) as flagged_gmv_cny,
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
        cast(flagged_gmv_cny as double) / nullif(cast(gmv_cny as double), 0)
            as channel_penetration
    from by_week
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
