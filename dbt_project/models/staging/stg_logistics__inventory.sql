with source as (
    select * from {{ source('logistics', 'inventory') }}
),

renamed as (
    select
        snapshot_date,
        sku_id,
        warehouse_id,
        qty_on_hand,
        exported_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
