with source as (
    select * from {{ source('product', 'categories') }}
),

renamed as (
    select
        {{ staging_columns('categories') }}
    from source
)

select * from renamed
