-- CAC per ISO week, blended (scope all: all spend / all new customers) and by channel (the
-- channel's spend / new customers whose first paid order came through it); null without new
-- customers.
with new_customers as (
    select * from {{ ref('int_customers_first_paid') }}
),

spend as (
    select * from {{ ref('fct_spend') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

new_scoped as (
    select
        dates.iso_week_label,
        scope.scope_type,
        scope.scope_value
    from new_customers
    inner join dates on new_customers.first_paid_date = dates.date_day
        lateral view explode(array(
            named_struct('scope_type', 'all', 'scope_value', 'all'),
            named_struct('scope_type', 'channel', 'scope_value', new_customers.acquisition_channel)
        )) scopes as scope
),

spend_scoped as (
    select
        spend.iso_week_label,
        scope.scope_type,
        scope.scope_value,
        spend.amount_cny
    from spend
        lateral view explode(array(
            named_struct('scope_type', 'all', 'scope_value', 'all'),
            named_struct('scope_type', 'channel', 'scope_value', spend.channel)
        )) scopes as scope
),

new_by_week as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        count(*) as new_customers
    from new_scoped
    group by iso_week_label, scope_type, scope_value
),

spend_by_week as (
    select
        iso_week_label,
        scope_type,
        scope_value,
        sum(amount_cny) as spend_cny
    from spend_scoped
    group by iso_week_label, scope_type, scope_value
),

keys as (
    select
        iso_week_label,
        scope_type,
        scope_value
    from new_by_week
    union
    select
        iso_week_label,
        scope_type,
        scope_value
    from spend_by_week
),

final as (
    select
        keys.iso_week_label,
        keys.scope_type,
        keys.scope_value,
        cast(coalesce(spend_by_week.spend_cny, 0) as decimal(18, 2)) as spend_cny,
        coalesce(new_by_week.new_customers, 0) as new_customers,
        cast(spend_by_week.spend_cny / nullif(new_by_week.new_customers, 0) as decimal(18, 2))
            as cac_cny
    from keys
    inner join weeks on keys.iso_week_label = weeks.iso_week_label
    left join new_by_week
        on
            keys.iso_week_label = new_by_week.iso_week_label
            and keys.scope_type = new_by_week.scope_type
            and keys.scope_value = new_by_week.scope_value
    left join spend_by_week
        on
            keys.iso_week_label = spend_by_week.iso_week_label
            and keys.scope_type = spend_by_week.scope_type
            and keys.scope_value = spend_by_week.scope_value
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
