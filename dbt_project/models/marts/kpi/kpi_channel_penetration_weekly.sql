-- Emerging channels' penetration per ISO week: GMV via live_stream, kol, community_group / GMV.
with lines as (
    select * from {{ ref('fct_order_items') }}
    where is_paid
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

by_week as (
    select
        weeks.iso_week_label,
        sum(
            case
                when lines.channel in ('live_stream', 'kol', 'community_group')
                    then lines.line_gmv_cny
                else 0
            end
        ) as emerging_gmv_cny,
        sum(lines.line_gmv_cny) as gmv_cny
    from lines
    inner join weeks on lines.paid_date between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
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
