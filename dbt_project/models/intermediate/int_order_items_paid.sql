-- Paid order lines with their ISO week and every scope attribute as it was when the order was
-- paid (SCD2 versions): the base of the GMV-type KPIs. Age-based segments use the age in the
-- paid week (year of the week's last day - birth year).
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with lines as (
    select * from {{ ref('fct_order_items') }}
    where is_paid
),

dates as (
    select * from {{ ref('dim_date') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

silver_tech as (
    select * from {{ ref('int_silver_tech_weekly') }}
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
        lines.paid_at,
        lines.paid_date,
        dates.iso_week_label,
        dates.week_end_date,
        products.spu_id,
        products.category_l1,
        products.category_l2,
        coalesce(products.is_nonstandard, false) as is_nonstandard,
        products.pilot_category,
        coalesce(products.is_smart_device, false) as is_smart_device,
        merchants.merchant_size,
        users.city_tier,
        {{ segment_flags('users', 'dates.week_end_date', 'silver_tech') }},
        lines.qty,
        lines.line_gmv_cny,
        lines.line_cogs_cny
    from lines
    inner join dates on lines.paid_date = dates.date_day
    left join users on lines.user_version_key = users.user_version_key
    left join merchants on lines.merchant_version_key = merchants.merchant_version_key
    left join products on lines.product_version_key = products.product_version_key
    left join silver_tech
        on lines.user_id = silver_tech.user_id and dates.week_end_date = silver_tech.week_end_date
)

select * from joined
