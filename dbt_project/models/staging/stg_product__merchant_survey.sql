with source as (
    select * from {{ source('product', 'merchant_survey') }}
),

renamed as (
    select
        merchant_id,
        quarter as survey_quarter,
        score,
        submitted_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
