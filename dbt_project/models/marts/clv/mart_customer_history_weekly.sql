-- Every customer's purchase history as of each covered week's Sunday: the inputs of the
-- customer-value models (BG/NBD and Gamma-Gamma, jobs/customer_value.py) and their holdout.
-- A purchase is a day with a paid order (same-day orders are one purchase), its spend the
-- day's paid GMV in CNY. Customers count from their first paid order; scopes as they were at
-- the end of the Sunday. An incremental run recomputes the weeks whose Sunday is within 90
-- days before the earliest new business date: their holdout (the 90 days after the Sunday)
-- changed too.
-- depends_on: {{ ref('int_changes') }} (its data tests' scope: macros/test_scope.sql)
with orders as (
    select * from {{ ref('fct_orders') }}
    where is_paid
),

paid_days as (
    select
        user_id,
        paid_date,
        sum(order_gmv_cny) as spend_cny
    from orders
    group by user_id, paid_date
),

firsts as (
    select
        user_id,
        min(paid_date) as first_paid_date
    from paid_days
    group by user_id
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
    where {{ is_changed_week('date_add(week_end_date, 90)') }}
),

days_by_week as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        weeks.first_data_date,
        weeks.last_data_date,
        paid_days.user_id,
        paid_days.paid_date,
        paid_days.spend_cny,
        firsts.first_paid_date
    from weeks
    inner join paid_days on paid_days.paid_date <= date_add(weeks.week_end_date, 90)
    inner join firsts on paid_days.user_id = firsts.user_id
    where firsts.first_paid_date <= weeks.week_end_date
),

history as (
    select
        iso_week_label,
        week_end_date,
        first_data_date,
        user_id,
        first_paid_date,
        date_add(week_end_date, 90) <= min(last_data_date) as is_holdout_covered,
        max(if(paid_date <= week_end_date, paid_date, null)) as last_paid_date,
        count_if(paid_date <= week_end_date) as paid_days,
        coalesce(sum(
            if(paid_date > first_paid_date and paid_date <= week_end_date, spend_cny, 0)
        ), 0) as repeat_spend_cny,
        count_if(paid_date > week_end_date) as paid_days_next_90d
    from days_by_week
    group by iso_week_label, week_end_date, first_data_date, user_id, first_paid_date
),

users as (
    select * from {{ ref('dim_users') }}
),

silver_tech as (
    select * from {{ ref('int_silver_tech_weekly') }}
),

attributed as (
    select
        history.*,
        history.last_paid_date >= date_sub(history.week_end_date, 364) as is_active,
        users.city_tier,
        {{ segment_flags('users', 'history.week_end_date', 'silver_tech') }},
        cast(null as string) as channel,
        cast(null as string) as merchant_size
    from history
    left join users
        on
            history.user_id = users.user_id
            and {{ as_of('users', end_of_day('history.week_end_date')) }}
    left join silver_tech
        on
            history.user_id = silver_tech.user_id
            and history.week_end_date = silver_tech.week_end_date
),

final as (
    select
        iso_week_label,
        week_end_date,
        first_data_date,
        user_id,
        first_paid_date,
        last_paid_date,
        paid_days,
        repeat_spend_cny,
        is_active,
        paid_days_next_90d,
        is_holdout_covered,
        city_tier,
        is_gen_z,
        is_60_plus,
        is_gen_z_pet_owner,
        is_lower_tier_city,
        {{ scope_array(line_level=false) }} as scopes
    from attributed
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
