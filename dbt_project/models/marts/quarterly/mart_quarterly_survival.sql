-- The first-year survival cohorts each calendar quarter concludes (PLAN.md "The rest of the
-- plan"): the onboarding-month cohorts whose 365 days after their month's last day end in the
-- quarter, from kpi_merchant_survival_monthly (the one definition of survival).
with cohorts as (
    select * from {{ ref('kpi_merchant_survival_monthly') }}
    where is_covered
),

concluded as (
    select
        *,
        date_add(last_day(cohort_month), 365) as concluded_date
    from cohorts
)

select
    concat(
        cast(year(concluded_date) as string), 'Q', cast(quarter(concluded_date) as string)
    ) as quarter_label,
    cohort_month,
    concluded_date,
    denominator as merchants,
    numerator as survivors,
    first_year_survival
from concluded
