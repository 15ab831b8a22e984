with source as (
    select * from {{ source('fx', 'fx_rates') }}
),

renamed as (
    select
        rate_date,
        currency,
        cny_per_unit,
        published_at
    from source
)

select * from renamed
