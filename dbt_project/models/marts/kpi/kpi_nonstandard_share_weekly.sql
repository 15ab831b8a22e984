-- Non-standard GMV share per ISO week: GMV of items whose product is non-standard / GMV.
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

by_week as (
    select
        iso_week_label,
        sum(case when is_nonstandard then line_gmv_cny else 0 end) as nonstandard_gmv_cny,
        sum(line_gmv_cny) as gmv_cny
    from lines
    group by iso_week_label
),

final as (
    select
        iso_week_label,
        cast(nonstandard_gmv_cny as decimal(18, 2)) as numerator_cny,
        cast(gmv_cny as decimal(18, 2)) as denominator_cny,
        cast(nonstandard_gmv_cny as double) / nullif(cast(gmv_cny as double), 0)
            as nonstandard_share
    from by_week
)

select * from final
