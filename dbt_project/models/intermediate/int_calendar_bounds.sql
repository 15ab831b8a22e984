-- The first and last day of the calendar (dim_date): the plan's years (2023-2027) and, in whole
-- ISO weeks, whatever business dates the data holds beyond them (silver refuses dates before
-- 2000 or after tomorrow), so orders of 2021 or 2028 still have their weeks instead of
-- vanishing from every weekly mart. Facts' dates only: a customer who registered in 2019 needs no
-- calendar week (customers count from their first paid order).
with data_bounds as (
    select
        least(min(created_at), min(paid_at)) as first_at,
        greatest(max(created_at), max(paid_at)) as last_at
    from {{ ref('stg_transaction__orders') }}
    union all
    select
        min(refunded_at) as first_at,
        max(refunded_at) as last_at
    from {{ ref('stg_transaction__refunds') }}
    union all
    select
        min(shipped_at) as first_at,
        max(delivered_at) as last_at
    from {{ ref('stg_logistics__shipments') }}
    union all
    select
        cast(min(spend_date) as timestamp) as first_at,
        cast(max(spend_date) as timestamp) as last_at
    from {{ ref('stg_marketing__spend') }}
    union all
    select
        cast(min(snapshot_date) as timestamp) as first_at,
        cast(max(snapshot_date) as timestamp) as last_at
    from {{ ref('stg_logistics__inventory') }}
)

select
    least(
        date '2023-01-01',
        coalesce(cast(date_trunc('week', min(first_at)) as date), date '2023-01-01')
    ) as first_day,
    greatest(
        date '2027-12-31',
        coalesce(date_add(cast(date_trunc('week', max(last_at)) as date), 6), date '2027-12-31')
    ) as last_day
from data_bounds
