with source as (
    select * from {{ source('product', 'listing_audits') }}
),

renamed as (
    select
        audit_id,
        sku_id,
        audited_at,
        matches_description,
        defect_type,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
