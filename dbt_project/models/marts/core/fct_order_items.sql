with items as (
    select * from {{ ref('stg_transaction__order_items') }}
),

orders as (
    select * from {{ ref('stg_transaction__orders') }}
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
        items.qty,
        items.currency,
        items.unit_price_local,
        items.discount_local,
        items.line_amount_local,
        items.fx_rate_to_cny,
        items.line_gmv_cny
    from items
    inner join orders on items.order_id = orders.order_id
)

select * from joined
