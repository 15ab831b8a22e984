{{ config(materialized='incremental', incremental_strategy='merge', unique_key='order_id') }}
-- One row per order with its GMV, refunds (CNY at the paid date's rate) and status.
-- Incremental: orders whose order, lines or refunds silver loaded since the last build, and
-- the lookback window of business dates (macros/incremental.sql).
with orders as (
    select * from {{ ref('stg_transaction__orders') }}
),

lines as (
    select
        order_id,
        count(*) as n_lines,
        sum(line_gmv_cny) as order_gmv_cny,
        max(silver_loaded_at) as silver_loaded_at
    from {{ ref('stg_transaction__order_items') }}
    group by order_id
),

refunds as (
    select
        converted.order_id,
        sum(converted.refund_cny) as refunded_cny,
        min(converted.refunded_at) as first_refunded_at,
        max(loads.silver_loaded_at) as silver_loaded_at
    from {{ ref('int_refunds_converted') }} as converted
    inner join {{ ref('stg_transaction__refunds') }} as loads
        on converted.refund_id = loads.refund_id
    group by converted.order_id
),

joined as (
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
        to_date(coalesce(orders.paid_at, orders.created_at)) as business_date,
        orders.cancelled_at,
        orders.paid_at is not null as is_paid,
        orders.fx_rate_to_cny,
        coalesce(lines.n_lines, 0) as n_lines,
        cast(coalesce(lines.order_gmv_cny, 0) as decimal(18, 2)) as order_gmv_cny,
        cast(coalesce(refunds.refunded_cny, 0) as decimal(18, 2)) as refunded_cny,
        refunds.first_refunded_at,
        greatest(
            orders.silver_loaded_at,
            coalesce(lines.silver_loaded_at, orders.silver_loaded_at),
            coalesce(refunds.silver_loaded_at, orders.silver_loaded_at)
        ) as silver_loaded_at
    from orders
    left join lines on orders.order_id = lines.order_id
    left join refunds on orders.order_id = refunds.order_id
)

select *
from joined
{% if is_incremental() %}
    where
        silver_loaded_at > {{ watermark() }}
        or business_date >= {{ lookback_from('business_date') }}
{% endif %}
