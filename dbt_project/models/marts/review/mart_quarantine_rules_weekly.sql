-- Quarantined rows per ISO week (of the landing date), entity, rule and field.
with quarantined as (
    select * from {{ ref('stg_quarantine__records') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

final as (
    select
        dates.iso_week_label,
        quarantined.entity,
        quarantined.rule,
        coalesce(quarantined.field, '(record)') as field,
        count(*) as rows_quarantined,
        count(distinct quarantined.source_file) as files
    from quarantined
    inner join dates on quarantined.landing_date = dates.date_day
    group by
        dates.iso_week_label,
        quarantined.entity,
        quarantined.rule,
        coalesce(quarantined.field, '(record)')
)

select * from final
