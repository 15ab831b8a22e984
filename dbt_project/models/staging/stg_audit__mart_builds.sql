with source as (
    select * from {{ source('audit', 'mart_builds') }}
),

renamed as (
    select
        build_id,
        started_at,
        kind
    from source
)

select * from renamed
