"""What a week's report shows, read from the marts at pinned Delta versions.

Every number the report prints is a value of a mart row (mart_weekly_review, mart_weekly_movers,
mart_data_quality_weekly, mart_quarantine_rules_weekly, kpi_merchant_survival_monthly); the
report selects and formats, it computes nothing. Each table is read at the Delta version
recorded in the report's snapshot, so the report and its snapshot.json always agree. The gate's
verdict comes from audit.quality_results: when the gate stops the transform, the marts never
hear of the failure, so the audit table is where it is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from pyspark.sql import SparkSession

from lanhai.config import Config

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")

MART_TABLES = ("mart_weekly_review", "mart_weekly_movers", "mart_data_quality_weekly",
               "mart_quarantine_rules_weekly", "kpi_merchant_survival_monthly")

# The KPIs drawn as 12-week trends (scope "all"), in the order of the plan's sections.
TREND_KPIS = ("gmv", "paid_orders", "aov", "repurchase_rate_90d", "cac", "channel_penetration",
              "nonstandard_share", "logistics_cost_share", "on_time_delivery_rate")
SEGMENT_KPIS = ("gmv", "aov", "aov_uplift", "repurchase_rate_90d", "nonstandard_share",
                "channel_penetration", "logistics_cost_share", "on_time_delivery_rate")
CHANNEL_KPIS = ("gmv", "new_customers", "cac", "ltv_cac_90d", "ltv_cac_365d",
                "logistics_cost_share")
MERCHANT_KPIS = ("smb_repurchase_rate_90d", "first_year_survival", "merchants_in_tier")
LOGISTICS_KPIS = ("logistics_cost_share", "on_time_delivery_rate", "inventory_turnover_pct")
PILOT_KPIS = ("pilot_gmv", "pilot_gmv_yoy_growth", "pilot_gross_margin_rate", "pilot_gmv_split",
              "budget_split")


HEADLINE_SIZE_KPIS = ("gmv", "net_sales", "paid_orders", "aov", "new_customers")


def kpi_order() -> list[str]:
    """The KPIs in the order conf/targets.yaml lists them (the plan's order)."""
    from lanhai.dbt import load_targets

    return list(load_targets()["kpis"])


class ReportError(ValueError):
    """A report that cannot be built as asked (e.g. a malformed week)."""


def parse_week(week: str) -> tuple[date, date]:
    """'2025-W23' -> (Monday, Sunday) of that ISO week."""
    m = WEEK_PATTERN.match(week or "")
    if not m:
        raise ReportError(f"week {week!r} is not an ISO week like 2025-W23")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as err:
        raise ReportError(f"week {week!r} does not exist: {err}") from err
    return monday, monday + timedelta(days=6)


def previous_weeks(week: str, n: int) -> list[str]:
    """The n ISO weeks ending with `week`, oldest first."""
    monday, _ = parse_week(week)
    out = []
    for i in range(n - 1, -1, -1):
        y, w, _ = (monday - timedelta(weeks=i)).isocalendar()
        out.append(f"{y}-W{w:02d}")
    return out


@dataclass
class GateVerdict:
    status: str                      # passed, failed or not_run
    checks: int = 0
    warnings: int = 0
    failures: list[dict] = field(default_factory=list)   # critical failures that decided it
    runs: list[str] = field(default_factory=list)


@dataclass
class WeekData:
    week: str
    week_start: date
    week_end: date
    status: str                      # ok, no_data or gate_failed
    versions: dict[str, int]
    gate: GateVerdict
    is_complete: bool = False
    last_data_date: date | None = None
    review: pd.DataFrame = field(default_factory=pd.DataFrame)     # this week, every scope
    trends: pd.DataFrame = field(default_factory=pd.DataFrame)     # 12 weeks, scope all
    movers: pd.DataFrame = field(default_factory=pd.DataFrame)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    survival: pd.DataFrame = field(default_factory=pd.DataFrame)

    def rows(self, kpis=None, scope_types=None) -> list[dict]:
        df = self.review
        if df.empty:
            return []
        if kpis is not None:
            df = df[df.kpi.isin(kpis)]
        if scope_types is not None:
            df = df[df.scope_type.isin(scope_types)]
        return df.to_dict("records")

    def headline(self) -> list[dict]:
        """One page: the size of the week (GMV, net sales, orders, AOV, new customers), then
        every KPI x scope the plan sets a target for, in the plan's order (conf/targets.yaml)."""
        df = self.review
        if df.empty:
            return []
        picked = df[((df.scope_type == "all") & df.kpi.isin(HEADLINE_SIZE_KPIS))
                    | df.direction.notna()].copy()
        order = {k: i for i, k in enumerate(kpi_order())}
        picked["has_target"] = picked.direction.notna()
        picked["kpi_rank"] = picked.kpi.map(lambda k: order.get(k, len(order)))
        picked = picked.sort_values(["has_target", "kpi_rank", "scope_type", "scope_value"])
        return picked.drop(columns=["has_target", "kpi_rank"]).to_dict("records")


def table_version(spark: SparkSession, name: str) -> int | None:
    if not spark.catalog.tableExists(name):
        return None
    return int(spark.sql(f"describe history {name} limit 1").first().version)


def _read(spark: SparkSession, name: str, version: int | None, where: str) -> pd.DataFrame:
    if version is None:
        return pd.DataFrame()
    from lanhai.analysis import to_pandas

    return to_pandas(spark.sql(f"select * from {name} version as of {version} where {where}"))


def gate_verdict(results: pd.DataFrame, start: date, end: date) -> GateVerdict:
    """The gate's verdict on the week: for each day, the latest gate run whose interval covers
    it decides; the week failed if any deciding run has a failed critical check."""
    if results.empty:
        return GateVerdict("not_run")
    results = results.copy()
    results["interval_start"] = pd.to_datetime(results.interval_start).dt.date
    results["interval_end"] = pd.to_datetime(results.interval_end).dt.date
    runs = (results.groupby("run_id")
            .agg(checked_at=("checked_at", "max"), interval_start=("interval_start", "min"),
                 interval_end=("interval_end", "max"))
            .reset_index())
    deciding = set()
    day = start
    while day <= end:
        covering = runs[(runs.interval_start <= day) & (runs.interval_end >= day)]
        if not covering.empty:
            deciding.add(covering.sort_values("checked_at").iloc[-1].run_id)
        day += timedelta(days=1)
    if not deciding:
        return GateVerdict("not_run")
    decided = results[results.run_id.isin(deciding)]
    failed = decided[(~decided.success.astype(bool)) & (decided.severity == "critical")]
    warned = decided[(~decided.success.astype(bool)) & (decided.severity != "critical")]
    failures = [
        {"table": r.table_name, "rule": r.rule, "rows": r.unexpected_count,
         "severity": r.severity, "interval": f"{r.interval_start}..{r.interval_end}"}
        for r in failed.itertuples()
    ]
    return GateVerdict("failed" if failures else "passed", checks=len(decided),
                       warnings=len(warned), failures=failures, runs=sorted(deciding))


def load_week(spark: SparkSession, config: Config, week: str) -> WeekData:
    """Read everything the week's report shows, at one pinned version of each table."""
    start, end = parse_week(week)
    marts = config.db("marts")
    names = {t: f"{marts}.{t}" for t in MART_TABLES}
    names["quality_results"] = config.table("audit", "quality_results")
    versions = {t: table_version(spark, n) for t, n in names.items()}
    q = f"'{week}'"
    review = _read(spark, names["mart_weekly_review"], versions["mart_weekly_review"],
                   f"iso_week_label = {q}")
    checks = _read(spark, names["quality_results"], versions["quality_results"],
                   f"interval_start <= date'{end}' and interval_end >= date'{start}'")
    gate = gate_verdict(checks, start, end)
    quality = _read(spark, names["mart_data_quality_weekly"],
                    versions["mart_data_quality_weekly"], f"iso_week_label = {q}")
    quarantine = _read(spark, names["mart_quarantine_rules_weekly"],
                       versions["mart_quarantine_rules_weekly"], f"iso_week_label = {q}")
    recorded = {t: v for t, v in versions.items() if v is not None}
    if review.empty:
        return WeekData(week, start, end, "no_data", recorded, gate, quality=quality,
                        quarantine=quarantine)
    last = None
    if not quality.empty and quality.latest_landing_date.notna().any():
        last = pd.to_datetime(quality.latest_landing_date).max().date()
    data = WeekData(week, start, end, "gate_failed" if gate.status == "failed" else "ok",
                    recorded, gate, is_complete=bool(review.is_complete_week.all()),
                    last_data_date=last, quality=quality, quarantine=quarantine)
    if data.status == "gate_failed":
        return data                   # no KPI is shown: the data behind them failed the gate
    data.review = review
    weeks = ", ".join(f"'{w}'" for w in previous_weeks(week, 12))
    data.trends = _read(spark, names["mart_weekly_review"], versions["mart_weekly_review"],
                        f"iso_week_label in ({weeks}) and (scope_type = 'all' or "
                        f"(kpi in ('pilot_gmv_split', 'budget_split') and "
                        f"scope_type = 'pilot_category'))")
    data.movers = _read(spark, names["mart_weekly_movers"], versions["mart_weekly_movers"],
                        f"iso_week_label = {q} and mover_rank <= 3")
    data.survival = _read(spark, names["kpi_merchant_survival_monthly"],
                          versions["kpi_merchant_survival_monthly"],
                          f"is_covered and first_week_shown <= {q}")
    if not data.survival.empty:
        data.survival = data.survival.sort_values("cohort_month").tail(12)
    return data
