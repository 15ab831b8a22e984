"""The A/B readout (PLAN.md "The rest of the plan"): from each experiment's counts per
variant (dbt's marts.mart_ab_conversion), both conversions, the absolute and relative lift,
a 95% confidence interval of the difference, a two-proportion test's p-value, the
sample-ratio check against the planned split, and "not enough data" below the planned size.

The statistics come from scipy (`scipy.stats`): the two-proportion z-test as the chi-square
test of the 2x2 table without continuity correction (the same p-value), the interval as the
unpooled (Wald) interval of the difference, the sample-ratio check as a chi-square
goodness-of-fit test of the exposed users against the planned split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

ALPHA = 0.05          # the readout's significance level (and 95% intervals)
SRM_ALPHA = 0.001     # PLAN.md: a sample-ratio p-value below this flags the experiment


@dataclass(frozen=True)
class Readout:
    experiment_id: str
    experiment_name: str | None
    concluded_week: str | None
    control_users: int
    control_converted: int
    control_conversion: float | None
    treatment_users: int
    treatment_converted: int
    treatment_conversion: float | None
    lift_abs: float | None
    lift_rel: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    planned_treatment_share: float
    planned_users_per_variant: int
    srm_p_value: float | None
    sample_ratio_mismatch: bool
    enough_data: bool
    verdict: str

    def row(self) -> dict:
        return asdict(self)


def _verdict(running: bool, srm: bool, enough: bool, p: float | None, lift: float | None) -> str:
    if srm:
        return "sample ratio mismatch: do not trust the result"
    if not enough:
        return "running: not enough data yet" if running else "not enough data"
    if running:
        return "running"
    if p is not None and p < ALPHA:
        return "treatment wins" if (lift or 0) > 0 else "treatment loses"
    return "no significant difference"


def readout(counts: Iterable[dict]) -> list[Readout]:
    """One readout per experiment from rows of (experiment_id, variant, exposed_users,
    converted_users, planned_treatment_share, planned_users_per_variant, concluded_week,
    ended_at[, experiment_name])."""
    from scipy import stats

    by_exp: dict[str, dict[str, dict]] = {}
    for r in counts:
        by_exp.setdefault(r["experiment_id"], {})[r["variant"]] = r
    out = []
    z = float(stats.norm.ppf(1 - ALPHA / 2))
    for exp_id in sorted(by_exp):
        arms = by_exp[exp_id]
        any_arm = next(iter(arms.values()))
        c, t = arms.get("control", {}), arms.get("treatment", {})
        n_c, x_c = int(c.get("exposed_users") or 0), int(c.get("converted_users") or 0)
        n_t, x_t = int(t.get("exposed_users") or 0), int(t.get("converted_users") or 0)
        p_c = x_c / n_c if n_c else None
        p_t = x_t / n_t if n_t else None
        share = float(any_arm["planned_treatment_share"])
        planned = int(any_arm["planned_users_per_variant"])
        lift = lift_rel = low = high = p_value = srm_p = None
        if p_c is not None and p_t is not None:
            lift = p_t - p_c
            lift_rel = lift / p_c if p_c else None
            se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
            low, high = lift - z * se, lift + z * se
            if 0 < x_c + x_t < n_c + n_t:
                table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
                p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
            else:  # nobody or everybody converted: no difference to test
                p_value = 1.0
        total = n_c + n_t
        if total and 0 < share < 1:
            srm_p = float(stats.chisquare([n_c, n_t], [total * (1 - share), total * share])
                          .pvalue)
        srm = srm_p is not None and srm_p < SRM_ALPHA
        enough = min(n_c, n_t) >= planned
        running = any_arm.get("ended_at") is None
        out.append(Readout(
            experiment_id=exp_id, experiment_name=any_arm.get("experiment_name"),
            concluded_week=any_arm.get("concluded_week"),
            control_users=n_c, control_converted=x_c, control_conversion=p_c,
            treatment_users=n_t, treatment_converted=x_t, treatment_conversion=p_t,
            lift_abs=lift, lift_rel=lift_rel, ci_low=low, ci_high=high, p_value=p_value,
            planned_treatment_share=share, planned_users_per_variant=planned,
            srm_p_value=srm_p, sample_ratio_mismatch=srm, enough_data=enough,
            verdict=_verdict(running, srm, enough, p_value, lift)))
    return out
