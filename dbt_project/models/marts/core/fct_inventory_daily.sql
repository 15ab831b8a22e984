-- Daily inventory per stocked SKU x warehouse, valued at the unit cost in effect that day.
with inventory as (
    select * from {{ ref('stg_logistics__inventory') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

final as (
    select
        inventory.snapshot_date,
        inventory.sku_id,
        inventory.warehouse_id,
        products.merchant_id,
        products.product_version_key,
        inventory.qty_on_hand,
        cast(inventory.qty_on_hand * products.unit_cost_cny as decimal(18, 2))
            as inventory_value_cny
    from inventory
    left join products
        on
            inventory.sku_id = products.sku_id
            and {{ as_of('products', 'cast(inventory.snapshot_date as timestamp)') }}
)

select * from final
