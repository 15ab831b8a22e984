with source as (
    select * from {{ source('transaction', 'refunds') }}
),

renamed as (
    select
        refund_id,
        order_id,
        currency,
        amount as amount_local,
        reason as refund_reason,
        refunded_at,
        updated_at,
        _silver_loaded_at as silver_loaded_at
    from source
)

select * from renamed
