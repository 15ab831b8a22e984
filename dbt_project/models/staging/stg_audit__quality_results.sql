with source as (
    select * from {{ source('audit', 'quality_results') }}
),

renamed as (
    select
        run_id,
        checked_at,
        interval_start,
        interval_end,
        domain,
        table_name,
        expectation,
        rule,
        severity,
        success as is_success,
        element_count,
        unexpected_count,
        details
    from source
)

select * from renamed
