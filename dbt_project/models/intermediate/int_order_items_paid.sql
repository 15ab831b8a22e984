-- Paid order lines with their ISO week and product attributes: the base of every GMV KPI.
-- Product attributes are the current ones for now; SCD2 history replaces them (issue 3).
with lines as (
    select * from {{ ref('fct_order_items') }}
    where is_paid
),

skus as (
    select * from {{ ref('stg_product__skus') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

joined as (
    select
        lines.order_id,
        lines.line_no,
        lines.sku_id,
        lines.user_id,
        lines.merchant_id,
        lines.channel,
        lines.channel in ('live_stream', 'kol', 'community_group') as is_emerging_channel,
        lines.paid_date,
        dates.iso_week_label,
        skus.spu_id,
        skus.category_l1,
        skus.category_l2,
        skus.is_nonstandard,
        skus.pilot_category,
        lines.qty,
        lines.line_gmv_cny
    from lines
    inner join dates on lines.paid_date = dates.date_day
    left join skus on lines.sku_id = skus.sku_id
)

select * from joined
