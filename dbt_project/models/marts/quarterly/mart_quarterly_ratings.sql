-- Product reviews per calendar quarter of posting (created_at, Asia/Shanghai), overall, by
-- category and by pilot category (the product's version when posted): the average rating of
-- each review's latest version and the share of 1-2 star reviews (PLAN.md "The rest of the
-- plan"). is_complete: the data covers the whole quarter.
with reviews as (
    select * from {{ ref('stg_user__reviews') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

bounds as (
    select max(to_date(created_at)) as last_data_date
    from {{ ref('stg_transaction__orders') }}
),

reviewed as (
    select
        cast(date_trunc('quarter', reviews.created_at) as date) as quarter_start_date,
        reviews.rating,
        products.category_l1,
        products.pilot_category
    from reviews
    left join products
        on
            reviews.sku_id = products.sku_id
            and {{ as_of('products', 'reviews.created_at') }}
),

exploded as (
    select
        reviewed.quarter_start_date,
        scope.scope_type,
        scope.scope_value,
        reviewed.rating
    from reviewed
        lateral view explode(
            filter(
                array(
                    named_struct('scope_type', 'all', 'scope_value', 'all'),
                    named_struct('scope_type', 'category', 'scope_value', reviewed.category_l1),
                    named_struct(
                        'scope_type', 'pilot_category', 'scope_value', reviewed.pilot_category
                    )
                ),
                s -> s.scope_value is not null
            )
        ) as scope
)

select
    concat(
        cast(year(exploded.quarter_start_date) as string),
        'Q',
        cast(quarter(exploded.quarter_start_date) as string)
    ) as quarter_label,
    exploded.quarter_start_date,
    exploded.scope_type,
    exploded.scope_value,
    min(bounds.last_data_date)
    >= date_sub(add_months(exploded.quarter_start_date, 3), 1) as is_complete,
    count(*) as reviews,
    sum(exploded.rating) as rating_sum,
    count_if(exploded.rating <= 2) as poor_reviews,
    {{ ratio('sum(exploded.rating)', 'count(*)') }} as average_rating,
    {{ ratio('count_if(exploded.rating <= 2)', 'count(*)') }} as poor_share
from exploded
cross join bounds
group by
    exploded.quarter_start_date,
    exploded.scope_type,
    exploded.scope_value
