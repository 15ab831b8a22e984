with source as (
    select * from {{ source('product', 'categories') }}
),

renamed as (
    select
        category_l2,
        category_l1,
        name_zh,
        name_en,
        is_smart_device,
        updated_at
    from source
)

select * from renamed
