with source as (
    select * from {{ source('product', 'skus_history') }}
),

renamed as (
    select
        {{ staging_columns('skus') }}
    from source
)

select * from renamed
