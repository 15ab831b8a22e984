-- Non-standard GMV share per ISO week: GMV of items whose product is non-standard / GMV.
with lines as (
    select * from {{ ref('fct_order_items') }}
    where is_paid
),

skus as (
    select * from {{ ref('stg_product__skus') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

by_week as (
    select
        weeks.iso_week_label,
        sum(
            case when skus.is_nonstandard then lines.line_gmv_cny else 0 end
        ) as nonstandard_gmv_cny,
        sum(lines.line_gmv_cny) as gmv_cny
    from lines
    inner join skus on lines.sku_id = skus.sku_id
    inner join weeks on lines.paid_date between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
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
