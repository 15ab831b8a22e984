-- Emerging channels' penetration per ISO week: GMV via live_stream, kol, community_group / GMV.
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

by_week as (
    select
        iso_week_label,
        sum(case when is_emerging_channel then line_gmv_cny else 0 end) as emerging_gmv_cny,
        sum(line_gmv_cny) as gmv_cny
    from lines
    group by iso_week_label
),

final as (
    select
        iso_week_label,
        cast(emerging_gmv_cny as decimal(18, 2)) as numerator_cny,
        cast(gmv_cny as decimal(18, 2)) as denominator_cny,
        cast(emerging_gmv_cny as double) / nullif(cast(gmv_cny as double), 0)
            as channel_penetration
    from by_week
)

select * from final
