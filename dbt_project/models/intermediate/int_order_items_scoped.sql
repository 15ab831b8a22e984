-- Each paid line once per scope it belongs to (all, category, pilot category, segments, city
-- tier, channel, merchant size), so that every scoped GMV KPI is one GROUP BY.
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

exploded as (
    select
        lines.*,
        explode({{ scope_array(line_level=true) }}) as scope
    from lines
),

final as (
    select
        scope.scope_type,
        scope.scope_value,
        exploded.order_id,
        exploded.line_no,
        exploded.user_id,
        exploded.merchant_id,
        exploded.paid_date,
        exploded.iso_week_label,
        exploded.week_end_date,
        exploded.spu_id,
        exploded.is_nonstandard,
        exploded.is_emerging_channel,
        exploded.qty,
        exploded.line_gmv_cny,
        exploded.line_cogs_cny
    from exploded
)

select * from final
