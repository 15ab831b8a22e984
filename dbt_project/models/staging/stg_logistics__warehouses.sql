with source as (
    select * from {{ source('logistics', 'warehouses') }}
),

renamed as (
    select
        warehouse_id,
        city,
        country,
        is_overseas,
        updated_at
    from source
)

select * from renamed
