with source as (
    select * from {{ source('user', 'reviews') }}
),

renamed as (
    select
        review_id,
        order_id,
        sku_id,
        rating,
        review_text,
        created_at,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
