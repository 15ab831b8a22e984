-- Each paid order once per order-level scope (all, segments, city tier, channel, merchant
-- size), with its GMV: the base of refunds, logistics and the customer-level KPIs by scope.
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

orders as (
    select
        order_id,
        min(user_id) as user_id,
        min(merchant_id) as merchant_id,
        min(paid_date) as paid_date,
        min(iso_week_label) as iso_week_label,
        min(channel) as channel,
        min(merchant_size) as merchant_size,
        min(city_tier) as city_tier,
        bool_or(is_gen_z) as is_gen_z,
        bool_or(is_60_plus) as is_60_plus,
        bool_or(is_gen_z_pet_owner) as is_gen_z_pet_owner,
        bool_or(is_lower_tier_city) as is_lower_tier_city,
        bool_or(is_silver_tech_enthusiast) as is_silver_tech_enthusiast,
        sum(line_gmv_cny) as order_gmv_cny
    from lines
    group by order_id
),

exploded as (
    select
        orders.*,
        explode({{ scope_array(line_level=false) }}) as scope
    from orders
),

final as (
    select
        scope.scope_type,
        scope.scope_value,
        exploded.order_id,
        exploded.user_id,
        exploded.merchant_id,
        exploded.paid_date,
        exploded.iso_week_label,
        cast(order_gmv_cny as decimal(18, 2)) as order_gmv_cny
    from exploded
)

select * from final
