-- GMV per calendar quarter (Asia/Shanghai, by paid date) and its growth year on year, overall,
-- by category and by pilot category (the product's version when paid), for the quarterly
-- review (PLAN.md "The rest of the plan"). A quarter is complete when the data covers it from
-- its first day to its last; growth needs the same quarter a year earlier complete too.
with lines as (
    select * from {{ ref('int_order_items_paid') }}
),

bounds as (
    select
        min(to_date(created_at)) as first_data_date,
        max(to_date(created_at)) as last_data_date
    from {{ ref('stg_transaction__orders') }}
),

exploded as (
    select
        cast(date_trunc('quarter', lines.paid_date) as date) as quarter_start_date,
        scope.scope_type,
        scope.scope_value,
        lines.order_id,
        lines.line_gmv_cny
    from lines
        lateral view explode(
            filter(
                array(
                    named_struct('scope_type', 'all', 'scope_value', 'all'),
                    named_struct('scope_type', 'category', 'scope_value', lines.category_l1),
                    named_struct(
                        'scope_type', 'pilot_category', 'scope_value', lines.pilot_category
                    )
                ),
                s -> s.scope_value is not null
            )
        ) as scope
),

by_quarter as (
    select
        exploded.quarter_start_date,
        exploded.scope_type,
        exploded.scope_value,
        sum(exploded.line_gmv_cny) as gmv_cny,
        count(distinct exploded.order_id) as paid_orders,
        min(bounds.first_data_date) <= exploded.quarter_start_date
        and min(bounds.last_data_date)
        >= date_sub(add_months(exploded.quarter_start_date, 3), 1) as is_complete
    from exploded
    cross join bounds
    group by exploded.quarter_start_date, exploded.scope_type, exploded.scope_value
),

final as (
    select
        concat(
            cast(year(this_year.quarter_start_date) as string),
            'Q',
            cast(quarter(this_year.quarter_start_date) as string)
        ) as quarter_label,
        this_year.quarter_start_date,
        this_year.scope_type,
        this_year.scope_value,
        this_year.is_complete,
        cast(this_year.gmv_cny as decimal(18, 2)) as gmv_cny,
        this_year.paid_orders,
        cast(
            if(this_year.is_complete and last_year.is_complete, last_year.gmv_cny, null)
            as decimal(18, 2)
        ) as gmv_last_year_cny,
        case
            when this_year.is_complete and last_year.is_complete
                then {{ ratio('this_year.gmv_cny', 'last_year.gmv_cny') }} - 1
        end as gmv_yoy_growth
    from by_quarter as this_year
    left join by_quarter as last_year
        on
            this_year.scope_type = last_year.scope_type
            and this_year.scope_value = last_year.scope_value
            and add_months(last_year.quarter_start_date, 12) = this_year.quarter_start_date
)

select * from final
