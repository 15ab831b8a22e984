with source as (
    select * from {{ source('audit', 'late_references') }}
),

renamed as (
    select
        entity,
        record_key,
        reference,
        value as referenced_value,
        run_id,
        flagged_at,
        to_date(flagged_at) as flagged_date
    from source
)

select * from renamed
