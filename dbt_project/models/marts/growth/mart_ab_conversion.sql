-- A/B conversion per experiment and variant (PLAN.md "The rest of the plan"): the users
-- exposed to the variant, and those of them with a paid order in [first exposure, first
-- exposure + 7 days). The statistics of the readout (lift, interval, p-value, sample ratio)
-- are computed from these counts by `lanhai ab-readout` (scipy) into marts.ab_readout.
with experiments as (
    select * from {{ ref('stg_growth__experiments') }}
),

assignments as (
    select * from {{ ref('stg_growth__assignments') }}
),

exposures as (
    select * from {{ ref('stg_growth__exposures') }}
),

orders as (
    select
        user_id,
        paid_at
    from {{ ref('fct_orders') }}
    where is_paid
),

dates as (
    select * from {{ ref('dim_date') }}
),

first_exposures as (
    select
        experiment_id,
        user_id,
        min(exposed_at) as first_exposed_at
    from exposures
    group by experiment_id, user_id
),

-- an exposed user counts in the variant they were assigned; one never assigned is left out
exposed as (
    select
        first_exposures.experiment_id,
        first_exposures.user_id,
        assignments.variant,
        first_exposures.first_exposed_at
    from first_exposures
    inner join assignments
        on
            first_exposures.experiment_id = assignments.experiment_id
            and first_exposures.user_id = assignments.user_id
),

converted as (
    select
        exposed.experiment_id,
        exposed.variant,
        exposed.user_id,
        max(
            case
                when
                    orders.paid_at >= exposed.first_exposed_at
                    and orders.paid_at < exposed.first_exposed_at + interval 7 days
                    then 1
                else 0
            end
        ) as has_converted
    from exposed
    left join orders on exposed.user_id = orders.user_id
    group by exposed.experiment_id, exposed.variant, exposed.user_id
),

counts as (
    select
        experiment_id,
        variant,
        count(*) as exposed_users,
        sum(has_converted) as converted_users
    from converted
    group by experiment_id, variant
)

select
    counts.experiment_id,
    experiments.experiment_name,
    counts.variant,
    counts.exposed_users,
    counts.converted_users,
    cast(counts.converted_users / counts.exposed_users as double) as conversion_rate,
    experiments.planned_treatment_share,
    experiments.planned_users_per_variant,
    experiments.started_at,
    experiments.ended_at,
    -- the readout concludes when the last exposure's 7 days have passed: the week of the
    -- last instant a conversion can count
    dates.iso_week_label as concluded_week
from counts
inner join experiments on counts.experiment_id = experiments.experiment_id
left join dates
    on to_date(experiments.ended_at + interval 7 days - interval 1 second) = dates.date_day
