-- Blended CAC per ISO week: all acquisition spend / new customers; null without new customers.
with new_customers as (
    select * from {{ ref('int_customers_first_paid') }}
),

spend as (
    select * from {{ ref('stg_marketing__spend') }}
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

new_by_week as (
    select
        weeks.iso_week_label,
        count(*) as new_customers
    from new_customers
    inner join weeks
        on new_customers.first_paid_date between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
),

spend_by_week as (
    select
        weeks.iso_week_label,
        sum(spend.amount_cny) as spend_cny
    from spend
    inner join weeks on spend.spend_date between weeks.week_start_date and weeks.week_end_date
    group by weeks.iso_week_label
),

final as (
    select
        weeks.iso_week_label,
        cast(coalesce(spend_by_week.spend_cny, 0) as decimal(18, 2)) as spend_cny,
        coalesce(new_by_week.new_customers, 0) as new_customers,
        cast(spend_by_week.spend_cny / nullif(new_by_week.new_customers, 0) as decimal(18, 2))
            as cac_cny
    from weeks
    left join new_by_week on weeks.iso_week_label = new_by_week.iso_week_label
    left join spend_by_week on weeks.iso_week_label = spend_by_week.iso_week_label
)

select * from final
