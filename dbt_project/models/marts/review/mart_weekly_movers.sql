-- The largest movers (PLAN.md weekly review, issue 5): how much each scope of one scope
-- dimension contributed to a KPI's week-on-week change at scope "all".
-- For a sum (gmv, orders, ...): contribution = the scope's own change.
-- For a ratio r = N / D (aov, repurchase, ...): contribution = (dN_s - r_prev * dD_s) / D,
-- with N, D the numerator and denominator (review mart), dN_s, dD_s the scope's changes and
-- D this week's denominator at "all". Over a dimension whose scopes partition "all" (their
-- numerators and denominators add up to those of "all" in both weeks) the contributions add
-- up exactly to the change; only such dimensions are kept (is_partition checks it per week,
-- so overlapping scopes such as segments, or customers in several channels, drop out).
-- Rates are in percentage points, like the review's change.
with kinds as (
    select *
    from
        values
        ('gmv', 'sum'),
        ('net_sales', 'sum'),
        ('paid_orders', 'sum'),
        ('new_customers', 'sum'),
        ('pilot_gmv', 'sum'),
        ('aov', 'ratio'),
        ('cac', 'ratio'),
        ('nonstandard_share', 'ratio'),
        ('channel_penetration', 'ratio'),
        ('repurchase_rate_90d', 'ratio'),
        ('smb_repurchase_rate_90d', 'ratio'),
        ('sku_overlap_rate', 'ratio'),
        ('logistics_cost_share', 'ratio'),
        ('on_time_delivery_rate', 'ratio') as t (kpi, kind)
),

review as (
    select
        reviewed.*,
        kinds.kind
    from {{ ref('mart_weekly_review') }} as reviewed
    inner join kinds on reviewed.kpi = kinds.kpi
),

weeks as (
    select * from {{ ref('int_weeks_covered') }}
),

paired as (
    -- the previous week's figures are the review's (its one previous-week join); a week
    -- whose previous week is not covered has no movers
    select
        review.iso_week_label,
        review.kpi,
        review.unit,
        review.kind,
        review.scope_type,
        review.scope_value,
        coalesce(review.numerator, 0) as numerator,
        coalesce(review.denominator, 0) as denominator,
        coalesce(review.previous_numerator, 0) as previous_numerator,
        coalesce(review.previous_denominator, 0) as previous_denominator
    from review
    inner join weeks on review.iso_week_label = weeks.iso_week_label
    inner join weeks as previous_weeks
        on previous_weeks.week_end_date = date_sub(weeks.week_end_date, 7)
),

headline as (
    select
        iso_week_label,
        kpi,
        kind,
        numerator,
        denominator,
        previous_numerator,
        previous_denominator,
        -- unrounded (the review rounds money ratios such as AOV to the cent)
        case
            when kind = 'sum'
                then cast(numerator - previous_numerator as double)
            else
                (
                    cast(numerator as double) / cast(denominator as double)
                    - cast(previous_numerator as double) / cast(previous_denominator as double)
                )
                * case when unit = 'rate' then 100 else 1 end
        end as exact_change
    from paired
    where scope_type = 'all'
),

dimension_totals as (
    select
        iso_week_label,
        kpi,
        scope_type,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        sum(previous_numerator) as previous_numerator,
        sum(previous_denominator) as previous_denominator
    from paired
    where scope_type <> 'all'
    group by iso_week_label, kpi, scope_type
),

partitions as (
    select
        dimension_totals.iso_week_label,
        dimension_totals.kpi,
        dimension_totals.scope_type
    from dimension_totals
    inner join headline
        on
            dimension_totals.iso_week_label = headline.iso_week_label
            and dimension_totals.kpi = headline.kpi
    where
        dimension_totals.numerator = headline.numerator
        and dimension_totals.denominator = headline.denominator
        and dimension_totals.previous_numerator = headline.previous_numerator
        and dimension_totals.previous_denominator = headline.previous_denominator
        and headline.previous_numerator <> 0
        and (
            headline.kind = 'sum'
            or (headline.denominator <> 0 and headline.previous_denominator <> 0)
        )
),

contributions as (
    select
        paired.iso_week_label,
        paired.kpi,
        paired.scope_type,
        paired.scope_value,
        paired.numerator - paired.previous_numerator as numerator_change,
        paired.denominator - paired.previous_denominator as denominator_change,
        case
            when paired.kind = 'sum'
                then cast(paired.numerator - paired.previous_numerator as double)
            else
                (
                    cast(paired.numerator - paired.previous_numerator as double)
                    - cast(headline.previous_numerator as double)
                    / cast(headline.previous_denominator as double)
                    * cast(paired.denominator - paired.previous_denominator as double)
                )
                / cast(headline.denominator as double)
                * case when paired.unit = 'rate' then 100 else 1 end
        end as contribution
    from paired
    inner join partitions
        on
            paired.iso_week_label = partitions.iso_week_label
            and paired.kpi = partitions.kpi
            and paired.scope_type = partitions.scope_type
    inner join headline
        on
            paired.iso_week_label = headline.iso_week_label
            and paired.kpi = headline.kpi
),

final as (
    select
        contributions.iso_week_label,
        contributions.kpi,
        all_scope.kpi_name_en,
        all_scope.kpi_name_zh,
        all_scope.unit,
        contributions.scope_type,
        contributions.scope_value,
        contributions.numerator_change,
        contributions.denominator_change,
        contributions.contribution,
        headline.exact_change as headline_change,
        all_scope.change_unit,
        contributions.contribution / nullif(headline.exact_change, 0) as contribution_share,
        row_number() over (
            partition by contributions.iso_week_label, contributions.kpi
            order by
                abs(contributions.contribution) desc,
                contributions.scope_type asc,
                contributions.scope_value asc
        ) as mover_rank
    from contributions
    inner join review as all_scope
        on
            contributions.iso_week_label = all_scope.iso_week_label
            and contributions.kpi = all_scope.kpi
            and all_scope.scope_type = 'all'
    inner join headline
        on
            contributions.iso_week_label = headline.iso_week_label
            and contributions.kpi = headline.kpi
)

select * from final
