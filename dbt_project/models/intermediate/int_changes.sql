{{ config(materialized='table') }}
-- When silver loaded data about which day: one row per (business date, load time). An
-- incremental model recomputes every week whose Sunday is on or after the earliest business
-- date loaded since it was last built (macro recompute_from), so late files and late
-- dimension versions reach the marts, and a full refresh gives the same result.
with loads as (
    select
        to_date(coalesce(paid_at, created_at)) as changed_date,
        silver_loaded_at
    from {{ ref('stg_transaction__orders') }}
    union all
    select
        to_date(refunded_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_transaction__refunds') }}
    union all
    select
        to_date(shipped_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_logistics__shipments') }}
    union all
    select
        snapshot_date as changed_date,
        silver_loaded_at
    from {{ ref('stg_logistics__inventory') }}
    union all
    select
        spend_date as changed_date,
        silver_loaded_at
    from {{ ref('stg_marketing__spend') }}
    union all
    select
        to_date(updated_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_user__users_history') }}
    union all
    select
        to_date(updated_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_product__merchants_history') }}
    union all
    select
        to_date(updated_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_product__skus_history') }}
    union all
    select
        to_date(audited_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_product__listing_audits') }}
    union all
    -- an experiment's conversions reach the week its readout concludes, after these dates
    select
        to_date(exposed_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_growth__exposures') }}
    union all
    select
        to_date(assigned_at) as changed_date,
        silver_loaded_at
    from {{ ref('stg_growth__assignments') }}
    union all
    select
        -- the readout's week is its end's (+7 days): a change reaches back to that at most
        least(to_date(updated_at), to_date(ended_at)) as changed_date,
        silver_loaded_at
    from {{ ref('stg_growth__experiments') }}
)

select
    changed_date,
    silver_loaded_at,
    count(*) as rows_loaded
from loads
group by changed_date, silver_loaded_at
