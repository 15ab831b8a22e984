{{ config(materialized='incremental', incremental_strategy='merge', unique_key='spend_id') }}
-- Marketing spend per day, channel and pilot category (null = not a pilot budget), in CNY.
-- Incremental: spend silver loaded since the last build, and the lookback window.
with spend as (
    select * from {{ ref('stg_marketing__spend') }}
    {%- if is_incremental() %}
        where
            silver_loaded_at > {{ watermark() }}
            or spend_date >= {{ lookback_from('spend_date') }}
    {%- endif %}
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
        spend.amount_cny,
        spend.silver_loaded_at
    from spend
    inner join dates on spend.spend_date = dates.date_day
)

select * from final
