-- Merchants with their history (SCD2): size (SMB/KA) and closure as they were at any instant.
with history as (
    select
        versions.*,
        {{ scd2_columns('merchant_id') }}
    from {{ ref('stg_product__merchants_history') }} as versions
),

final as (
    select
        concat(merchant_id, '#', cast(version_no as string)) as merchant_version_key,
        merchant_id,
        version_no,
        valid_from,
        valid_to,
        is_current,
        merchant_name,
        merchant_size,
        onboarded_date,
        closed_date,
        is_cross_border,
        home_currency,
        city,
        updated_at
    from history
)

select * from final
