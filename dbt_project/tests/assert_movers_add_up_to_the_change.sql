-- The contributions of a dimension's scopes add up to the KPI's change at scope "all".
select
    iso_week_label,
    kpi,
    scope_type,
    sum(contribution) as contributions,
    max(headline_change) as headline_change
from {{ ref('mart_weekly_movers') }}
group by iso_week_label, kpi, scope_type
having abs(sum(contribution) - max(headline_change)) > 1e-6 * greatest(1, abs(max(headline_change)))
