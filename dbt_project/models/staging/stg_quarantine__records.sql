with source as (
    select * from {{ source('quarantine', 'records') }}
),

renamed as (
    select
        entity,
        rule,
        field,
        source_file,
        to_date(regexp_extract(source_file, 'dt=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1))
            as landing_date,
        line,
        record_key,
        raw as raw_masked,
        run_id,
        quarantined_at
    from source
)

select * from renamed
