with source as (
    select * from {{ source('audit', 'landed_files') }}
),

renamed as (
    select
        entity,
        source_file,
        landing_date,
        file_modified_at,
        ingested_at,
        run_id,
        batch_id
    from source
)

select * from renamed
