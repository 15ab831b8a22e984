with source as (
    select * from {{ source('product', 'merchants') }}
),

renamed as (
    select
        {{ staging_columns('merchants') }}
    from source
)

select * from renamed
