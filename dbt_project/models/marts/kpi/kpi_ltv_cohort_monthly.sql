{{ config(partition_by=['cohort_month']) }}
-- Historical LTV per monthly cohort of new customers, blended (scope all) and by acquisition
-- channel: GMV per customer of all their paid orders with paid_at in [first paid_at, first
-- paid_at + N days), first order included, for N = 30, 90, 180, 365; null until the window of
-- the cohort's last day is covered by data. With the month's CAC and LTV/CAC
-- (= cohort GMV in the window / the month's spend) beside it. The month in progress is not
-- published (PLAN.md: a cohort month is covered when it is over).
with new_customers as (
    select * from {{ ref('int_customers_first_paid') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_paid
),

spend as (
    select * from {{ ref('fct_spend') }}
),

bounds as (
    select max(to_date(created_at)) as last_data_date from orders
),

customer_value as (
    select
        new_customers.user_id,
        cast(date_trunc('month', new_customers.first_paid_date) as date) as cohort_month,
        new_customers.acquisition_channel,
    {%- for n in [30, 90, 180, 365] %}
        sum(
            case
                when orders.paid_at < new_customers.first_paid_at + interval {{ n }} days
                    then orders.order_gmv_cny
                else 0
            end
        ) as gmv_{{ n }}d_cny{{ "," if not loop.last }}
    {%- endfor %}
    from new_customers
    inner join orders
        on
            new_customers.user_id = orders.user_id
            and new_customers.first_paid_at <= orders.paid_at
            and orders.paid_at < new_customers.first_paid_at + interval 365 days
    group by
        new_customers.user_id,
        cast(date_trunc('month', new_customers.first_paid_date) as date),
        new_customers.acquisition_channel
),

scoped as (
    select
        customer_value.*,
        scope.scope_type,
        scope.scope_value
    from customer_value
        lateral view explode(array(
            named_struct('scope_type', 'all', 'scope_value', 'all'),
            named_struct('scope_type', 'channel', 'scope_value', acquisition_channel)
        )) scopes as scope
),

cohorts as (
    select
        cohort_month,
        scope_type,
        scope_value,
        count(*) as customers,
    {%- for n in [30, 90, 180, 365] %}
        sum(gmv_{{ n }}d_cny) as gmv_{{ n }}d_cny{{ "," if not loop.last }}
    {%- endfor %}
    from scoped
    group by cohort_month, scope_type, scope_value
),

spend_by_month as (
    select
        cast(date_trunc('month', spend.spend_date) as date) as cohort_month,
        scope.scope_type,
        scope.scope_value,
        sum(spend.amount_cny) as spend_cny
    from spend
        lateral view explode(array(
            named_struct('scope_type', 'all', 'scope_value', 'all'),
            named_struct('scope_type', 'channel', 'scope_value', channel)
        )) scopes as scope
    group by
        cast(date_trunc('month', spend.spend_date) as date), scope.scope_type, scope.scope_value
),

final as (
    select
        cohorts.cohort_month,
        cohorts.scope_type,
        cohorts.scope_value,
        cohorts.customers,
        {%- for n in [30, 90, 180, 365] %}
            date_add(last_day(cohorts.cohort_month), {{ n }}) <= bounds.last_data_date
                as is_{{ n }}d_covered,
            case
                when date_add(last_day(cohorts.cohort_month), {{ n }}) <= bounds.last_data_date
                    then cast(cohorts.gmv_{{ n }}d_cny as decimal(18, 2))
            end as cohort_gmv_{{ n }}d_cny,
            case
                when date_add(last_day(cohorts.cohort_month), {{ n }}) <= bounds.last_data_date
                    then cast(cohorts.gmv_{{ n }}d_cny / cohorts.customers as decimal(18, 2))
            end as ltv_{{ n }}d_cny,
        {%- endfor %}
        cast(coalesce(spend_by_month.spend_cny, 0) as decimal(18, 2)) as spend_cny,
        cast(spend_by_month.spend_cny / cohorts.customers as decimal(18, 2)) as cac_cny,
        case
            when date_add(last_day(cohorts.cohort_month), 90) <= bounds.last_data_date
                then {{ ratio('cohorts.gmv_90d_cny', 'spend_by_month.spend_cny') }}
        end as ltv_cac_90d,
        case
            when date_add(last_day(cohorts.cohort_month), 365) <= bounds.last_data_date
                then {{ ratio('cohorts.gmv_365d_cny', 'spend_by_month.spend_cny') }}
        end as ltv_cac_365d
    from cohorts
    cross join bounds
    left join spend_by_month
        on
            cohorts.cohort_month = spend_by_month.cohort_month
            and cohorts.scope_type = spend_by_month.scope_type
            and cohorts.scope_value = spend_by_month.scope_value
    where last_day(cohorts.cohort_month) <= bounds.last_data_date
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_changed_cohort('final.cohort_month', 365) }}
