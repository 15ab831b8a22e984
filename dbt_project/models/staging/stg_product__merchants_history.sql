with source as (
    select * from {{ source('product', 'merchants_history') }}
),

renamed as (
    select
        {{ staging_columns('merchants') }}
    from source
)

select * from renamed
