with source as (
    select * from {{ source('product', 'skus') }}
),

renamed as (
    select
        sku_id,
        spu_id,
        merchant_id,
        category_l1,
        category_l2,
        is_nonstandard,
        pilot_category,
        green_certified as is_green_certified,
        condition_grade,
        currency,
        list_price as list_price_local,
        unit_cost_cny,
        updated_at
    from source
)

select * from renamed
