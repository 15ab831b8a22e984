-- Smart-device penetration among users 60+ per ISO week: users aged 60+ (year of the week's
-- Sunday - birth year) with a smart-device purchase in the 365 days ending on the Sunday /
-- users 60+ with any paid order in those days; null until 365 days of data exist.
with lines as (
    -- the paid lines and whether each product (its version when paid) is a smart device: what
    -- this KPI needs of int_order_items_paid, without the joins its scopes need
    select
        paid_lines.user_id,
        paid_lines.paid_date,
        coalesce(products.is_smart_device, false) as is_smart_device
    from {{ ref('fct_order_items') }} as paid_lines
    left join {{ ref('dim_products') }} as products
        on paid_lines.product_version_key = products.product_version_key
    where paid_lines.is_paid and {{ reaches_changed_weeks('paid_lines.paid_date', 365) }}
),

users as (
    select
        user_id,
        min(birth_year) as birth_year
    from {{ ref('dim_users') }}
    group by user_id
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

bounds as (
    select max(week_end_date) as last_week_end_date from weeks
),

user_days as (
    select
        lines.user_id,
        lines.paid_date,
        users.birth_year,
        bool_or(lines.is_smart_device) as bought_smart_device
    from lines
    inner join users on lines.user_id = users.user_id
    cross join bounds
    where users.birth_year <= year(bounds.last_week_end_date) - 60
    group by lines.user_id, lines.paid_date, users.birth_year
),

per_user as (
    select
        window_end_date,
        user_id,
        bool_or(bought_smart_device) as bought_smart_device
    from (
        select
            user_days.*,
            {{ windows_holding('paid_date', 365) }} as window_end_date
        from user_days
    )
    where year(window_end_date) - birth_year >= 60
    group by window_end_date, user_id
),

by_week as (
    select
        window_end_date,
        count_if(bought_smart_device) as buyers,
        count(*) as active
    from per_user
    group by window_end_date
),

final as (
    select
        weeks.iso_week_label,
        'all' as scope_type,
        'all' as scope_value,
        date_sub(weeks.week_end_date, 364) >= weeks.first_data_date as is_window_covered,
        if(date_sub(weeks.week_end_date, 364) >= weeks.first_data_date, by_week.buyers, null)
            as numerator,
        if(date_sub(weeks.week_end_date, 364) >= weeks.first_data_date, by_week.active, null)
            as denominator,
        if(
            date_sub(weeks.week_end_date, 364) >= weeks.first_data_date,
            cast(by_week.buyers / nullif(by_week.active, 0) as double),
            null
        ) as smart_device_penetration
    from weeks
    left join by_week on weeks.week_end_date = by_week.window_end_date
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
