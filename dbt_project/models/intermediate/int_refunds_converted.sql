-- Refunds in CNY at the original order's paid-date rate, by the day they were refunded.
with refunds as (
    select * from {{ ref('stg_transaction__refunds') }}
),

orders as (
    select * from {{ ref('stg_transaction__orders') }}
),

converted as (
    select
        refunds.refund_id,
        refunds.order_id,
        refunds.refunded_at,
        to_date(refunds.refunded_at) as refunded_date,
        cast(round(refunds.amount_local * orders.fx_rate_to_cny, 2) as decimal(18, 2))
            as refund_cny
    from refunds
    inner join orders on refunds.order_id = orders.order_id
)

select * from converted
