-- Data quality per ISO week (of the landing date) and entity, for the weekly review: rows and
-- files landed, rows quarantined, late references flagged and still unresolved, the checks
-- of the latest quality-gate run covering the week, the latest data landed so far, and the
-- end-to-end freshness of the week's files (median and 95th percentile, arrival in the
-- landing zone to the first build of the marts: int_file_freshness). Rules
-- are in mart_quarantine_rules_weekly.
with landed as (
    select * from {{ ref('int_bronze_files') }}
),

quarantined as (
    select * from {{ ref('stg_quarantine__records') }}
),

late_refs as (
    select * from {{ ref('stg_audit__late_references') }}
),

checks as (
    select * from {{ ref('stg_audit__quality_results') }}
),

users as (
    select user_id from {{ ref('stg_user__users') }}
),

merchants as (
    select merchant_id from {{ ref('stg_product__merchants') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

entities as (
    select distinct
        domain,
        entity
    from landed
),

landed_by_week as (
    select
        dates.iso_week_label,
        landed.entity,
        sum(landed.rows_landed) as rows_landed,
        count(distinct landed.source_file) as files_landed
    from landed
    inner join dates on landed.landing_date = dates.date_day
    group by dates.iso_week_label, landed.entity
),

quarantined_by_week as (
    select
        dates.iso_week_label,
        quarantined.entity,
        count(*) as rows_quarantined
    from quarantined
    inner join dates on quarantined.landing_date = dates.date_day
    group by dates.iso_week_label, quarantined.entity
),

late_by_week as (
    select
        dates.iso_week_label,
        late_refs.entity,
        count(*) as late_references_flagged,
        count_if(
            (late_refs.reference = 'users.user_id' and users.user_id is null)
            or (late_refs.reference = 'merchants.merchant_id' and merchants.merchant_id is null)
        ) as late_references_unresolved
    from late_refs
    inner join dates on late_refs.flagged_date = dates.date_day
    left join users
        on late_refs.reference = 'users.user_id' and late_refs.referenced_value = users.user_id
    left join merchants
        on
            late_refs.reference = 'merchants.merchant_id'
            and late_refs.referenced_value = merchants.merchant_id
    group by dates.iso_week_label, late_refs.entity
),

weeks as (
    select distinct
        iso_week_label,
        week_start_date,
        week_end_date
    from dates
),

-- A gate run checks an interval of days (a whole backfill at once, or one day); the latest run
-- whose interval reaches into a week decides that week (as in the report's gate verdict), so
-- each week counts the checks of that run, not of every run whose interval ends in it.
checks_in_weeks as (
    select
        weeks.iso_week_label,
        checks.table_name as entity,
        checks.run_id,
        checks.is_success,
        checks.severity,
        max(checks.checked_at) over (
            partition by weeks.iso_week_label, checks.table_name
        ) as latest_checked_at,
        max(checks.checked_at) over (
            partition by weeks.iso_week_label, checks.table_name, checks.run_id
        ) as run_checked_at
    from checks
    inner join weeks
        on
            checks.interval_start <= weeks.week_end_date
            and checks.interval_end >= weeks.week_start_date
),

checks_by_week as (
    select
        iso_week_label,
        entity,
        count(*) as quality_checks,
        count_if(not is_success and severity = 'critical') as quality_critical_failures,
        count_if(not is_success and severity <> 'critical') as quality_warnings
    from checks_in_weeks
    where run_checked_at = latest_checked_at
    group by iso_week_label, entity
),

-- end-to-end freshness of the week's files (by landing date): arrival to the first build
freshness_by_week as (
    select
        dates.iso_week_label,
        freshness.entity,
        count(freshness.first_build_at) as files_built,
        percentile(freshness.freshness_seconds, 0.5) / 60 as freshness_p50_minutes,
        percentile(freshness.freshness_seconds, 0.95) / 60 as freshness_p95_minutes
    from {{ ref('int_file_freshness') }} as freshness
    inner join dates on freshness.landing_date = dates.date_day
    where freshness.first_build_at is not null
    group by dates.iso_week_label, freshness.entity
),

latest as (
    select
        entity,
        max(landing_date) as latest_landing_date,
        max(latest_ingested_at) as latest_ingested_at
    from landed
    group by entity
),

keys as (
    select
        iso_week_label,
        entity
    from landed_by_week
    union
    select
        iso_week_label,
        entity
    from quarantined_by_week
    union
    select
        iso_week_label,
        entity
    from late_by_week
    union
    select
        iso_week_label,
        entity
    from checks_by_week
),

final as (
    select
        keys.iso_week_label,
        entities.domain,
        keys.entity,
        coalesce(landed_by_week.rows_landed, 0) as rows_landed,
        coalesce(landed_by_week.files_landed, 0) as files_landed,
        coalesce(quarantined_by_week.rows_quarantined, 0) as rows_quarantined,
        cast(
            coalesce(quarantined_by_week.rows_quarantined, 0)
            / nullif(landed_by_week.rows_landed, 0) as double
        ) as quarantined_share,
        coalesce(late_by_week.late_references_flagged, 0) as late_references_flagged,
        coalesce(late_by_week.late_references_unresolved, 0) as late_references_unresolved,
        coalesce(checks_by_week.quality_checks, 0) as quality_checks,
        coalesce(checks_by_week.quality_critical_failures, 0) as quality_critical_failures,
        coalesce(checks_by_week.quality_warnings, 0) as quality_warnings,
        latest.latest_landing_date,
        latest.latest_ingested_at,
        coalesce(freshness_by_week.files_built, 0) as files_built,
        freshness_by_week.freshness_p50_minutes,
        freshness_by_week.freshness_p95_minutes
    from keys
    left join entities on keys.entity = entities.entity
    left join landed_by_week
        on
            keys.iso_week_label = landed_by_week.iso_week_label
            and keys.entity = landed_by_week.entity
    left join quarantined_by_week
        on
            keys.iso_week_label = quarantined_by_week.iso_week_label
            and keys.entity = quarantined_by_week.entity
    left join late_by_week
        on
            keys.iso_week_label = late_by_week.iso_week_label
            and keys.entity = late_by_week.entity
    left join checks_by_week
        on
            keys.iso_week_label = checks_by_week.iso_week_label
            and keys.entity = checks_by_week.entity
    left join freshness_by_week
        on
            keys.iso_week_label = freshness_by_week.iso_week_label
            and keys.entity = freshness_by_week.entity
    left join latest on keys.entity = latest.entity
)

select * from final
