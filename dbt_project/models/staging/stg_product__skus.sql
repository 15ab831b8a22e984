with source as (
    select * from {{ source('product', 'skus') }}
),

renamed as (
    select
        {{ staging_columns('skus') }}
    from source
)

select * from renamed
