-- Inventory turnover per ISO week, by merchant (the merchants with inventory snapshots), by
-- merchant size (as at the end of the week) and overall: COGS of paid items over the 30 days
-- ending on the week's Sunday / average daily inventory value at cost over those 30 days
-- (days without a snapshot count as zero), as a percentage; null until 30 days are covered.
with inventory as (
    select
        merchant_id,
        snapshot_date,
        sum(inventory_value_cny) as inventory_value_cny
    from {{ ref('fct_inventory_daily') }}
    where {{ reaches_changed_weeks('snapshot_date', 30) }}
    group by merchant_id, snapshot_date
),

cogs as (
    select
        merchant_id,
        paid_date,
        sum(line_cogs_cny) as cogs_cny
    from {{ ref('fct_order_items') }}
    where is_paid and {{ reaches_changed_weeks('paid_date', 30) }}
    group by merchant_id, paid_date
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

merchants as (
    select * from {{ ref('dim_merchants') }}
),

inventory_windows as (
    select
        merchant_id,
        window_end_date,
        sum(inventory_value_cny) as inventory_value_sum_cny
    from (
        select
            inventory.*,
            {{ windows_holding('snapshot_date', 30) }} as window_end_date
        from inventory
    )
    group by merchant_id, window_end_date
),

cogs_windows as (
    select
        merchant_id,
        window_end_date,
        sum(cogs_cny) as cogs_cny
    from (
        select
            cogs.*,
            {{ windows_holding('paid_date', 30) }} as window_end_date
        from cogs
    )
    group by merchant_id, window_end_date
),

per_merchant as (
    select
        inventory_windows.merchant_id,
        inventory_windows.window_end_date,
        coalesce(cogs_windows.cogs_cny, 0) as cogs_cny,
        inventory_windows.inventory_value_sum_cny
    from inventory_windows
    left join cogs_windows
        on
            inventory_windows.merchant_id = cogs_windows.merchant_id
            and inventory_windows.window_end_date = cogs_windows.window_end_date
),

sized as (
    select
        per_merchant.*,
        merchants.merchant_size
    from per_merchant
    left join merchants
        on
            per_merchant.merchant_id = merchants.merchant_id
            and {{ as_of('merchants', end_of_day('per_merchant.window_end_date')) }}
),

scoped as (
    select
        sized.*,
        scope.scope_type,
        scope.scope_value
    from sized
        lateral view explode(array(
            named_struct('scope_type', 'all', 'scope_value', 'all'),
            named_struct('scope_type', 'merchant_size', 'scope_value', sized.merchant_size),
            named_struct('scope_type', 'merchant', 'scope_value', sized.merchant_id)
        )) scopes as scope
),

aggregated as (
    select
        window_end_date,
        scope_type,
        scope_value,
        sum(cogs_cny) as cogs_cny,
        sum(inventory_value_sum_cny) as inventory_value_sum_cny,
        sum(inventory_value_sum_cny) / 30 as avg_inventory_value_cny
    from scoped
    where scope_value is not null
    group by window_end_date, scope_type, scope_value
),

final as (
    select
        weeks.iso_week_label,
        weeks.week_end_date,
        aggregated.scope_type,
        aggregated.scope_value,
        date_sub(weeks.week_end_date, 29) >= weeks.first_data_date as is_window_covered,
        cast(aggregated.cogs_cny as decimal(18, 2)) as cogs_30d_cny,
        cast(aggregated.avg_inventory_value_cny as decimal(18, 2)) as avg_inventory_value_cny,
        case
            when date_sub(weeks.week_end_date, 29) >= weeks.first_data_date
                then
                    100
                    * {{ ratio('30 * aggregated.cogs_cny', 'aggregated.inventory_value_sum_cny') }}
        end as inventory_turnover_pct
    from weeks
    inner join aggregated on weeks.week_end_date = aggregated.window_end_date
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
