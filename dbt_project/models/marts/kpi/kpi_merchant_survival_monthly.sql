{{ config(partition_by=['cohort_month']) }}
-- First-year survival per onboarding-month cohort of merchants onboarded within the data:
-- merchants not closed by day 365 after onboarding (day 0) and with a paid order in days
-- 335-365 / merchants onboarded in the month; null until day 365 of the month's last day has
-- passed. `latest_covered_week` is the first ISO week that shows the cohort.
with merchants as (
    select * from {{ ref('dim_merchants') }}
    where is_current
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_paid
),

bounds as (
    select
        min(to_date(created_at)) as first_data_date,
        max(to_date(created_at)) as last_data_date
    from {{ ref('fct_orders') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

active_late as (
    select distinct merchants.merchant_id
    from merchants
    inner join orders
        on
            merchants.merchant_id = orders.merchant_id
            and orders.paid_date between date_add(merchants.onboarded_date, 335)
            and date_add(merchants.onboarded_date, 365)
),

cohort_members as (
    select
        cast(date_trunc('month', merchants.onboarded_date) as date) as cohort_month,
        merchants.merchant_id,
        (
            merchants.closed_date is null
            or merchants.closed_date > date_add(merchants.onboarded_date, 365)
        )
        and active_late.merchant_id is not null as is_survivor
    from merchants
    cross join bounds
    left join active_late on merchants.merchant_id = active_late.merchant_id
    where merchants.onboarded_date >= bounds.first_data_date
),

cohorts as (
    select
        cohort_month,
        count(*) as merchants,
        count_if(is_survivor) as survivors
    from cohort_members
    group by cohort_month
),

final as (
    select
        cohorts.cohort_month,
        date_add(last_day(cohorts.cohort_month), 365) <= bounds.last_data_date as is_covered,
        cohorts.merchants as denominator,
        case
            when date_add(last_day(cohorts.cohort_month), 365) <= bounds.last_data_date
                then cohorts.survivors
        end as numerator,
        case
            when date_add(last_day(cohorts.cohort_month), 365) <= bounds.last_data_date
                then cast(cohorts.survivors / cohorts.merchants as double)
        end as first_year_survival,
        dates.iso_week_label as first_week_shown
    from cohorts
    cross join bounds
    inner join dates on date_add(last_day(cohorts.cohort_month), 365) = dates.date_day
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_changed_cohort('final.cohort_month', 366) }}
