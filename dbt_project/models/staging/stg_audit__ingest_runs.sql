with source as (
    select * from {{ source('audit', 'ingest_runs') }}
),

renamed as (
    select
        run_id,
        layer,
        entity,
        batch_id,
        started_at,
        finished_at,
        files,
        landed,
        inserted,
        updated,
        superseded,
        duplicates,
        quarantined,
        late_references
    from source
)

select * from renamed
