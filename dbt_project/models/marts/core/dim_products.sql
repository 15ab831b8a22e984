-- Products (SKUs, with their SPU and category) with their history (SCD2): pilot category,
-- green certification, price and cost as they were at any instant.
with history as (
    select
        versions.*,
        {{ scd2_columns('sku_id') }}
    from {{ ref('stg_product__skus_history') }} as versions
),

categories as (
    select * from {{ ref('stg_product__categories') }}
),

final as (
    select
        concat(history.sku_id, '#', cast(history.version_no as string)) as product_version_key,
        history.sku_id,
        history.version_no,
        history.valid_from,
        history.valid_to,
        history.is_current,
        history.spu_id,
        history.merchant_id,
        history.category_l1,
        history.category_l2,
        categories.name_zh as category_name_zh,
        categories.name_en as category_name_en,
        coalesce(categories.is_smart_device, false) as is_smart_device,
        history.is_nonstandard,
        history.pilot_category,
        history.is_green_certified,
        history.condition_grade,
        history.currency,
        history.list_price_local,
        history.unit_cost_cny,
        history.updated_at
    from history
    left join categories on history.category_l2 = categories.category_l2
)

select * from final
