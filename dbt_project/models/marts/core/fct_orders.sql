with orders as (
    select * from {{ ref('stg_transaction__orders') }}
),

lines as (
    select
        order_id,
        count(*) as n_lines,
        sum(line_gmv_cny) as order_gmv_cny
    from {{ ref('stg_transaction__order_items') }}
    group by order_id
),

refunds as (
    select
        order_id,
        sum(refund_cny) as refunded_cny,
        min(refunded_at) as first_refunded_at
    from {{ ref('int_refunds_converted') }}
    group by order_id
),

final as (
    select
        orders.order_id,
        orders.user_id,
        orders.merchant_id,
        orders.channel,
        orders.currency,
        orders.order_status,
        orders.created_at,
        orders.paid_at,
        to_date(orders.paid_at) as paid_date,
        orders.cancelled_at,
        orders.paid_at is not null as is_paid,
        orders.fx_rate_to_cny,
        coalesce(lines.n_lines, 0) as n_lines,
        cast(coalesce(lines.order_gmv_cny, 0) as decimal(18, 2)) as order_gmv_cny,
        cast(coalesce(refunds.refunded_cny, 0) as decimal(18, 2)) as refunded_cny,
        refunds.first_refunded_at
    from orders
    left join lines on orders.order_id = lines.order_id
    left join refunds on orders.order_id = refunds.order_id
)

select * from final
