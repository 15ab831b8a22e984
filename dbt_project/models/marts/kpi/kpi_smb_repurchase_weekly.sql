-- SMB merchants' repurchase rate per ISO week: customer-merchant pairs (the merchant SMB at
-- the end of the week) with paid orders on 2+ distinct days in the 90 days ending on the
-- week's Sunday / pairs with 1+; null until 90 days of data exist. Scope: all.
-- int_paid_days_by_window's scope merchant_size = SMB, spread here from the fact with the one
-- SCD2 join it needs (the merchant's size at the end of the window's Sunday)
with paid_day_windows as (
    {{ paid_day_windows(90) }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

paid_days as (
    select
        paid_day_windows.window_end_date,
        paid_day_windows.user_id,
        paid_day_windows.merchant_id,
        paid_day_windows.paid_date
    from paid_day_windows
    inner join merchants
        on
            paid_day_windows.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', end_of_day('paid_day_windows.window_end_date')) }}
    where
        merchants.merchant_size = 'SMB'
        and {{ is_changed_week('paid_day_windows.window_end_date') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
    where {{ is_changed_week('week_end_date') }}
),

pairs as (
    select
        window_end_date,
        user_id,
        merchant_id,
        count(distinct paid_date) as paid_days
    from paid_days
    group by window_end_date, user_id, merchant_id
),

by_week as (
    select
        window_end_date,
        count_if(paid_days >= 2) as repeaters,
        count(*) as active
    from pairs
    group by window_end_date
),

final as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        'all' as scope_type,
        'all' as scope_value,
        date_sub(weeks.week_end_date, 89) >= weeks.first_data_date as is_window_covered,
        by_week.repeaters,
        by_week.active
    from weeks
    inner join by_week on weeks.week_end_date = by_week.window_end_date
),

kpi as (
    select
        iso_week_label,
        week_end_date,
        scope_type,
        scope_value,
        is_window_covered,
        if(is_window_covered, repeaters, null) as numerator,
        if(is_window_covered, active, null) as denominator,
        if(is_window_covered, {{ ratio('repeaters', 'active') }}, null) as repurchase_rate
    from final
)

select
    kpi.*,
    current_timestamp() as dbt_built_at
from kpi
where {{ is_published_week('kpi.iso_week_label') }}
