-- The calendar covers the plan's years and whatever the data holds beyond them
-- (int_calendar_bounds), in whole ISO weeks.
with bounds as (
    select * from {{ ref('int_calendar_bounds') }}
),

days as (
    select explode(sequence(first_day, last_day)) as date_day
    from bounds
),

festivals as (
    select * from {{ ref('festivals') }}
),

calendar as (
    select
        date_day,
        extract(yearofweek from date_day) as iso_year,
        extract(week from date_day) as iso_week,
        extract(dayofweek_iso from date_day) as iso_day_of_week,
        cast(date_trunc('week', date_day) as date) as week_start_date
    from days
),

final as (
    select
        calendar.date_day,
        calendar.iso_year,
        calendar.iso_week,
        concat(
            cast(calendar.iso_year as string), '-W', lpad(cast(calendar.iso_week as string), 2, '0')
        ) as iso_week_label,
        calendar.week_start_date,
        date_add(calendar.week_start_date, 6) as week_end_date,
        calendar.iso_day_of_week,
        calendar.iso_day_of_week >= 6 as is_weekend,
        festivals.festival_code is not null as is_festival,
        festivals.festival_code,
        festivals.name_zh as festival_name_zh,
        festivals.name_en as festival_name_en
    from calendar
    left join festivals on calendar.date_day = festivals.festival_date
)

select * from final
