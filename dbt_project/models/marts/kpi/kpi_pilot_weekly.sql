-- The pilot categories per ISO week (sustainable, silver economy, second-hand; scope_value
-- 'all' = the three together; 'reserve' carries budget only): GMV (product's pilot category
-- as it was when paid), GMV of the same ISO week a year earlier and the growth, gross margin
-- (GMV - COGS - allocated logistics cost), each pilot's share of pilot GMV (the plan's split
-- 40/35/25) and of pilot-tagged spend (the year-1 budget split 40/35/15/10).
with lines as (
    select * from {{ ref('int_order_logistics_allocated') }}
    where pilot_category is not null
),

spend as (
    select * from {{ ref('fct_spend') }}
    where pilot_category is not null
),

dates as (
    select * from {{ ref('dim_date') }}
),

weeks as (
    select
        iso_week_label,
        min(iso_year) as iso_year,
        min(iso_week) as iso_week
    from dates
    group by iso_week_label
),

covered as (
    select * from {{ ref('int_weeks_covered') }}
),

gmv as (
    select
        iso_week_label,
        scope_value,
        sum(line_gmv_cny) as gmv_cny,
        sum(line_cogs_cny) as cogs_cny,
        sum(line_logistics_cost_cny) as logistics_cost_cny
    from lines
        lateral view explode(array('all', pilot_category)) scopes as scope_value
    group by iso_week_label, scope_value
),

budget as (
    select
        iso_week_label,
        scope_value,
        sum(amount_cny) as spend_cny
    from spend
        lateral view explode(array('all', pilot_category)) scopes as scope_value
    group by iso_week_label, scope_value
),

pilots as (
    select explode(array('all', 'sustainable', 'silver_economy', 'second_hand', 'reserve'))
        as scope_value
),

keys as (
    select
        covered.iso_week_label,
        pilots.scope_value
    from covered
    cross join pilots
),

joined as (
    select
        keys.iso_week_label,
        keys.scope_value,
        weeks.iso_year,
        weeks.iso_week,
        gmv.gmv_cny,
        gmv.cogs_cny,
        gmv.logistics_cost_cny,
        budget.spend_cny
    from keys
    inner join weeks on keys.iso_week_label = weeks.iso_week_label
    left join gmv
        on keys.iso_week_label = gmv.iso_week_label and keys.scope_value = gmv.scope_value
    left join budget
        on keys.iso_week_label = budget.iso_week_label and keys.scope_value = budget.scope_value
),

with_totals as (
    select
        joined.*,
        sum(case when joined.scope_value = 'all' then joined.gmv_cny end)
            over (partition by joined.iso_week_label) as pilot_gmv_cny,
        sum(case when joined.scope_value = 'all' then joined.spend_cny end)
            over (partition by joined.iso_week_label) as pilot_spend_cny
    from joined
),

product_columns as (
    select
        this_year.iso_week_label,
        this_year.scope_value,
        cast(coalesce(this_year.gmv_cny, 0) as decimal(18, 2)) as gmv_cny,
        cast(last_year.gmv_cny as decimal(18, 2)) as gmv_last_year_cny,
        case
            when last_year.iso_week_label is not null
                then {{ ratio('this_year.gmv_cny', 'last_year.gmv_cny') }} - 1
        end as gmv_yoy_growth,
        cast(coalesce(this_year.cogs_cny, 0) as decimal(18, 2)) as cogs_cny,
        cast(coalesce(this_year.logistics_cost_cny, 0) as decimal(18, 2)) as logistics_cost_cny,
        cast(
            coalesce(this_year.gmv_cny, 0) - coalesce(this_year.cogs_cny, 0)
            - coalesce(this_year.logistics_cost_cny, 0) as decimal(18, 2)
        ) as gross_margin_cny,
        {{ ratio(
            'this_year.gmv_cny - this_year.cogs_cny - this_year.logistics_cost_cny',
            'this_year.gmv_cny',
        ) }} as gross_margin_rate,
        case
            when this_year.scope_value <> 'all'
                then {{ ratio('coalesce(this_year.gmv_cny, 0)', 'this_year.pilot_gmv_cny') }}
        end as gmv_split,
        cast(coalesce(this_year.spend_cny, 0) as decimal(18, 2)) as spend_cny,
        {{ ratio('coalesce(this_year.spend_cny, 0)', 'this_year.pilot_spend_cny') }}
            as budget_split
    from with_totals as this_year
    left join with_totals as last_year
        on
            this_year.scope_value = last_year.scope_value
            and this_year.iso_week = last_year.iso_week
            and this_year.iso_year = last_year.iso_year + 1
),

-- 'reserve' is a budget line, not a category: it has spend and its budget split, and no GMV
-- (null, not 0: no row of the GMV split). 'all' has no split of its own.
final as (
    select
        iso_week_label,
        'pilot_category' as scope_type,
        scope_value,
        if(scope_value <> 'reserve', gmv_cny, null) as gmv_cny,
        if(scope_value <> 'reserve', gmv_last_year_cny, null) as gmv_last_year_cny,
        if(scope_value <> 'reserve', gmv_yoy_growth, null) as gmv_yoy_growth,
        if(scope_value <> 'reserve', cogs_cny, null) as cogs_cny,
        if(scope_value <> 'reserve', logistics_cost_cny, null) as logistics_cost_cny,
        if(scope_value <> 'reserve', gross_margin_cny, null) as gross_margin_cny,
        if(scope_value <> 'reserve', gross_margin_rate, null) as gross_margin_rate,
        if(scope_value <> 'reserve', gmv_split, null) as gmv_split,
        spend_cny,
        if(scope_value <> 'all', budget_split, null) as budget_split
    from product_columns
)

select
    final.*,
    current_timestamp() as dbt_built_at
from final
where {{ is_published_week('final.iso_week_label') }}
