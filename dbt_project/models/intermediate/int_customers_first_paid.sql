-- Each customer's first-ever paid order (earliest paid_at, then order_id): a new customer then.
with orders as (
    select * from {{ ref('fct_orders') }}
    where is_paid
),

ranked as (
    select
        user_id,
        order_id,
        paid_at,
        paid_date,
        channel,
        row_number() over (partition by user_id order by paid_at, order_id) as paid_order_rank
    from orders
),

final as (
    select
        user_id,
        order_id as first_order_id,
        paid_at as first_paid_at,
        paid_date as first_paid_date,
        channel as acquisition_channel
    from ranked
    where paid_order_rank = 1
)

select * from final
