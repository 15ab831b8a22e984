-- Each customer's paid order days spread to the Sundays whose 90-day window holds them, with
-- the scopes as they were at the end of that Sunday (the date a windowed KPI is keyed by):
-- the user's segments and city tier, the merchant's size, the product's category and pilot
-- category, and the order's channel. The base of the repurchase rate by scope (an equi-join
-- per window instead of a range join); a rate of one scope spreads the fact itself instead.
with lines as (
    select distinct
        user_id,
        merchant_id,
        sku_id,
        channel,
        paid_date
    from {{ ref('fct_order_items') }}
    where is_paid
),

spread as (
    select
        lines.*,
        {{ windows_holding('paid_date', 90) }} as window_end_date
    from lines
),

keyed as (
    select
        spread.*,
        {{ end_of_day('spread.window_end_date') }} as window_end_at
    from spread
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

attributed as (
    select
        keyed.window_end_date,
        keyed.user_id,
        keyed.merchant_id,
        keyed.paid_date,
        keyed.channel,
        products.category_l1,
        products.pilot_category,
        merchants.merchant_size,
        users.city_tier,
        {{ segment_flags('users', 'keyed.window_end_date', 'silver_tech') }}
    from keyed
    left join users
        on keyed.user_id = users.user_id and {{ as_of('users', 'keyed.window_end_at') }}
    left join merchants
        on
            keyed.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', 'keyed.window_end_at') }}
    left join products
        on keyed.sku_id = products.sku_id and {{ as_of('products', 'keyed.window_end_at') }}
    left join silver_tech
        on
            keyed.user_id = silver_tech.user_id
            and keyed.window_end_date = silver_tech.week_end_date
),

exploded as (
    select
        attributed.*,
        explode({{ scope_array(line_level=true) }}) as scope
    from attributed
),

final as (
    select distinct
        exploded.window_end_date,
        scope.scope_type,
        scope.scope_value,
        exploded.user_id,
        exploded.merchant_id,
        exploded.paid_date
    from exploded
)

select * from final
