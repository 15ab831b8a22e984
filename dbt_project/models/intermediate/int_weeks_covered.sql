{{ config(materialized='table') }}
-- A table, rebuilt whole by every run (a few hundred rows): each weekly mart and its tests read
-- it, and as a view each of those reads scanned every order for its first and last date.
-- The ISO weeks the data covers, with the first and last day of data (windows before the first
-- are not covered, nor a look ahead past the last).
-- PLAN.md: a week is covered when the data reaches its Sunday; the week in progress is not
-- published (is_published_week keeps every weekly mart to these weeks).
with dates as (
    select * from {{ ref('dim_date') }}
),

orders as (
    select * from {{ ref('stg_transaction__orders') }}
),

bounds as (
    select
        min(to_date(created_at)) as first_data_date,
        max(to_date(created_at)) as last_data_date
    from orders
),

weeks as (
    select
        dates.iso_week_label,
        min(dates.week_start_date) as week_start_date,
        min(dates.week_end_date) as week_end_date,
        min(bounds.first_data_date) as first_data_date,
        min(bounds.last_data_date) as last_data_date
    from dates
    cross join bounds
    where
        dates.date_day between bounds.first_data_date and bounds.last_data_date
        and dates.week_end_date <= bounds.last_data_date
    group by dates.iso_week_label
)

select * from weeks
