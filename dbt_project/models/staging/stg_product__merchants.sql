with source as (
    select * from {{ source('product', 'merchants') }}
),

renamed as (
    select
        merchant_id,
        merchant_name,
        size as merchant_size,
        onboarded_at as onboarded_date,
        closed_at as closed_date,
        is_cross_border,
        home_currency,
        city,
        updated_at
    from source
)

select * from renamed
