{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['snapshot_date', 'sku_id', 'warehouse_id'],
) }}
-- Daily inventory per stocked SKU x warehouse, valued at the unit cost in effect that day.
-- Incremental: snapshots silver loaded since the last build, and the lookback window.
with inventory as (
    select * from {{ ref('stg_logistics__inventory') }}
    {%- if is_incremental() %}
        where
            silver_loaded_at > {{ watermark() }}
            or snapshot_date >= {{ lookback_from('snapshot_date') }}
    {%- endif %}
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
            as inventory_value_cny,
        inventory.silver_loaded_at
    from inventory
    left join products
        on
            inventory.sku_id = products.sku_id
            and {{ as_of('products', 'cast(inventory.snapshot_date as timestamp)') }}
)

select * from final
