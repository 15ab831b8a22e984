-- Each paid line's share of its order's logistics cost (all the order's shipments), in
-- proportion to line GMV: the quotient order cost x line GMV / order GMV at 6 decimals (as
-- Spark's decimal division gives it), then rounded half-up to the cent. The base of the pilot
-- categories' gross margin (GMV - COGS - logistics cost).
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

shipments as (
    select
        order_id,
        sum(logistics_cost_cny) as logistics_cost_cny
    from {{ ref('fct_shipments') }}
    group by order_id
),

orders as (
    select
        order_id,
        sum(line_gmv_cny) as order_gmv_cny
    from lines
    group by order_id
),

final as (
    select
        lines.order_id,
        lines.line_no,
        lines.paid_date,
        lines.iso_week_label,
        lines.pilot_category,
        lines.line_gmv_cny,
        lines.line_cogs_cny,
        cast(
            coalesce(
                round(
                    cast(
                        shipments.logistics_cost_cny * lines.line_gmv_cny
                        / nullif(orders.order_gmv_cny, 0) as decimal(38, 6)
                    ),
                    2
                ),
                0
            ) as decimal(18, 2)
        ) as line_logistics_cost_cny
    from lines
    inner join orders on lines.order_id = orders.order_id
    left join shipments on lines.order_id = shipments.order_id
)

select * from final
