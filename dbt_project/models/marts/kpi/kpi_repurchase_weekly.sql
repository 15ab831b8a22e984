-- Platform repurchase rate per ISO week: customers with paid orders on 2+ distinct days in the
-- 90 days ending on the week's Sunday / customers with 1+; null until 90 days of data exist.
with lines as (
    select distinct
        user_id,
        paid_date
    from {{ ref('fct_orders') }}
    where is_paid
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

in_window as (
    select
        weeks.iso_week_label,
        lines.user_id,
        count(*) as paid_days
    from weeks
    inner join lines
        on lines.paid_date between date_sub(weeks.week_end_date, 89) and weeks.week_end_date
    group by weeks.iso_week_label, lines.user_id
),

by_week as (
    select
        iso_week_label,
        count_if(paid_days >= 2) as repeat_customers,
        count(*) as customers
    from in_window
    group by iso_week_label
),

final as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        date_sub(weeks.week_end_date, 89) >= weeks.first_data_date as is_window_covered,
        case
            when date_sub(weeks.week_end_date, 89) >= weeks.first_data_date
                then by_week.repeat_customers
        end as numerator,
        case
            when date_sub(weeks.week_end_date, 89) >= weeks.first_data_date
                then by_week.customers
        end as denominator,
        case
            when date_sub(weeks.week_end_date, 89) >= weeks.first_data_date
                then cast(by_week.repeat_customers / nullif(by_week.customers, 0) as double)
        end as repurchase_rate_90d
    from weeks
    left join by_week on weeks.iso_week_label = by_week.iso_week_label
)

select * from final
