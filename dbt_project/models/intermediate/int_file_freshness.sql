-- End-to-end freshness per landed file (PLAN.md "The rest of the plan"): from its arrival in
-- the landing zone (the file's modification time; when bronze took it if that is unknown) to
-- the start of the first build of the marts after bronze took it, i.e. the build that put it
-- in the marts (lanhai.landed). A file no build has included yet has no first build.
with files as (
    select
        entity,
        source_file,
        min(landing_date) as landing_date,
        min(coalesce(file_modified_at, ingested_at)) as arrived_at,
        min(ingested_at) as ingested_at
    from {{ ref('stg_audit__landed_files') }}
    group by entity, source_file
),

builds as (
    -- a build's start (a `passed` row notes that the build passed: macros/test_scope.sql)
    select * from {{ ref('stg_audit__mart_builds') }}
    where kind = 'transform'
),

first_builds as (
    select
        files.entity,
        files.source_file,
        min(builds.started_at) as first_build_at
    from files
    inner join builds on files.ingested_at <= builds.started_at
    group by files.entity, files.source_file
)

select
    files.entity,
    files.source_file,
    files.landing_date,
    files.arrived_at,
    files.ingested_at,
    first_builds.first_build_at,
    unix_micros(first_builds.first_build_at) / 1e6
    - unix_micros(files.arrived_at) / 1e6 as freshness_seconds
from files
left join first_builds
    on files.entity = first_builds.entity and files.source_file = first_builds.source_file
