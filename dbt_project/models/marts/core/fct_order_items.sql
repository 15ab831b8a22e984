-- depends_on: {{ ref('fct_orders') }} (its relationships test: fct_orders is built first)
{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key=['order_id', 'line_no']
) }}
-- One row per order line (paid or not), with the dimension versions in effect when the order
-- was paid (created, while unpaid): the keys of dim_users, dim_merchants and dim_products.
-- Incremental: lines silver loaded since the last build, and the lookback window, which
-- re-joins recent lines to dimension versions that arrived late (macros/incremental.sql).
with items as (
    select * from {{ ref('stg_transaction__order_items') }}
),

orders as (
    select * from {{ ref('stg_transaction__orders') }}
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

joined as (
    select
        items.order_id,
        items.line_no,
        items.sku_id,
        orders.user_id,
        orders.merchant_id,
        orders.channel,
        orders.order_status,
        orders.paid_at,
        to_date(orders.paid_at) as paid_date,
        orders.paid_at is not null as is_paid,
        coalesce(orders.paid_at, orders.created_at) as effective_at,
        to_date(coalesce(orders.paid_at, orders.created_at)) as business_date,
        greatest(items.silver_loaded_at, orders.silver_loaded_at) as silver_loaded_at,
        items.qty,
        items.currency,
        items.unit_price_local,
        items.discount_local,
        items.line_amount_local,
        items.fx_rate_to_cny,
        items.line_gmv_cny
    from items
    inner join orders on items.order_id = orders.order_id
    {%- if is_incremental() %}
        where
            greatest(items.silver_loaded_at, orders.silver_loaded_at) > {{ watermark() }}
            or to_date(coalesce(orders.paid_at, orders.created_at))
            >= {{ lookback_from('business_date') }}
    {%- endif %}
),

final as (
    select
        joined.order_id,
        joined.line_no,
        joined.sku_id,
        joined.user_id,
        joined.merchant_id,
        users.user_version_key,
        merchants.merchant_version_key,
        products.product_version_key,
        joined.channel,
        joined.order_status,
        joined.paid_at,
        joined.paid_date,
        joined.is_paid,
        joined.qty,
        joined.currency,
        joined.unit_price_local,
        joined.discount_local,
        joined.line_amount_local,
        joined.fx_rate_to_cny,
        joined.line_gmv_cny,
        cast(joined.qty * products.unit_cost_cny as decimal(18, 2)) as line_cogs_cny,
        joined.business_date,
        joined.silver_loaded_at
    from joined
    left join users
        on
            joined.user_id = users.user_id
            and {{ as_of('users', 'joined.effective_at') }}
    left join merchants
        on
            joined.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', 'joined.effective_at') }}
    left join products
        on
            joined.sku_id = products.sku_id
            and {{ as_of('products', 'joined.effective_at') }}
)

select * from final
