-- Marketing spend per day, channel and pilot category (null = not a pilot budget), in CNY.
with spend as (
    select * from {{ ref('stg_marketing__spend') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

final as (
    select
        spend.spend_id,
        spend.spend_date,
        dates.iso_week_label,
        spend.channel,
        spend.pilot_category,
        spend.amount_cny
    from spend
    inner join dates on spend.spend_date = dates.date_day
)

select * from final
