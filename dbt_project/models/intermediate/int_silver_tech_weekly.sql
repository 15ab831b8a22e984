{{ config(materialized='table') }}
-- The smart-device half of the "silver tech enthusiasts" segment (PLAN.md "The rest of the
-- plan"): the users with smart-device purchases (the product's version when paid) on 2 or more
-- distinct days in the 365 days ending on a Sunday, one row per user and such Sunday. The
-- segment is these users when they are 60+ in that week (macro segment_flags), so every scoped
-- KPI keyed by a Sunday (a week's lines, a window's end) takes it from here.
with smart_days as (
    select distinct
        paid_lines.user_id,
        paid_lines.paid_date
    from {{ ref('fct_order_items') }} as paid_lines
    inner join {{ ref('dim_products') }} as products
        on paid_lines.product_version_key = products.product_version_key
    where paid_lines.is_paid and products.is_smart_device
),

spread as (
    select
        user_id,
        paid_date,
        {{ windows_holding('paid_date', 365) }} as week_end_date
    from smart_days
)

select
    user_id,
    week_end_date
from spread
group by user_id, week_end_date
having count(distinct paid_date) >= 2
