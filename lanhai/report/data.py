"""What a week's report shows, read from the marts at pinned Delta versions.

Every number the report prints is a value of a mart row (mart_weekly_review, mart_weekly_movers,
mart_data_quality_weekly, mart_quarantine_rules_weekly, kpi_merchant_survival_monthly); the
report selects and formats, it computes nothing. Each table is read at the Delta version
recorded in the report's snapshot, so the report and its snapshot.json always agree. The gate's
verdict comes from audit.quality_results: when the gate stops the transform, the marts never
hear of the failure, so the audit table is where it is recorded.

Restatements: every value a report showed is recorded in `audit.published_kpis` when it is
built. A later report lists each published (week, KPI, scope) whose value in the marts has
changed since (late files, corrected data): what was published, when, and what it is now.
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
               "mart_quarantine_rules_weekly", "kpi_merchant_survival_monthly", "ab_readout")


def section_kpis(section: str) -> tuple[str, ...]:
    """The KPIs a section of the review shows (conf/targets.yaml's `report`), in the
    registry's order: headline (the size of the week, beside the targets), trends (12-week
    charts at scope "all"), segments, channels, logistics, pilots."""
    from lanhai.dbt import load_targets

    return tuple(code for code, k in load_targets()["kpis"].items()
                 if section in (k.get("report") or []))


TREND_KPIS = section_kpis("trends")
SEGMENT_KPIS = section_kpis("segments")
CHANNEL_KPIS = section_kpis("channels")
LOGISTICS_KPIS = section_kpis("logistics")
PILOT_KPIS = section_kpis("pilots")
HEADLINE_SIZE_KPIS = section_kpis("headline")

PUBLISHED_COLUMNS = ("iso_week_label string, kpi string, scope_type string, scope_value string, "
                     "value double, report_week string, published_at timestamp")
KEY = ["iso_week_label", "kpi", "scope_type", "scope_value"]


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
    restated: pd.DataFrame = field(default_factory=pd.DataFrame)   # published values since changed
    experiments: pd.DataFrame = field(default_factory=pd.DataFrame)  # A/B readouts concluded

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
    data.experiments = _read(spark, names["ab_readout"], versions["ab_readout"],
                             f"concluded_week = {q}")
    if not data.experiments.empty:
        data.experiments = data.experiments.sort_values("experiment_id")
    data.restated = restatements(spark, config, week, names["mart_weekly_review"],
                                 versions["mart_weekly_review"])
    return data


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Values that differ beyond float noise, or that became (or stopped being) null."""
    both = a.notna() & b.notna()
    far = (a - b).abs() > 1e-9 * b.abs().clip(lower=1.0)
    return (both & far) | (a.isna() != b.isna())


def restatements(spark: SparkSession, config: Config, week: str, review: str,
                 version: int | None) -> pd.DataFrame:
    """The values published for weeks up to `week` (the latest publication of each) that the
    review mart, at its pinned version, no longer holds: one row each, with both values."""
    published_table = config.table("audit", "published_kpis")
    if version is None or not spark.catalog.tableExists(published_table):
        return pd.DataFrame()
    from lanhai.analysis import to_pandas

    published = to_pandas(spark.sql(f"""
        select {", ".join(KEY)}, value as published_value, report_week, published_at
        from (select *, row_number() over (partition by {", ".join(KEY)}
                                           order by published_at desc) as n
              from {published_table} where iso_week_label <= '{week}')
        where n = 1"""))
    if published.empty:
        return pd.DataFrame()
    weeks = ", ".join(f"'{w}'" for w in sorted(set(published.iso_week_label)))
    now = _read(spark, review, version, f"iso_week_label in ({weeks})")[
        [*KEY, "kpi_name_en", "kpi_name_zh", "unit", "value"]]
    both = published.merge(now, on=KEY, how="left")
    changed = both[_differs(both.published_value.astype(float), both.value.astype(float))]
    return changed.sort_values(["iso_week_label", "kpi", "scope_type", "scope_value"],
                               ascending=[False, True, True, True]).reset_index(drop=True)


def publish(spark: SparkSession, config: Config, d: WeekData) -> int:
    """Record the values a report of `d` showed (every KPI and scope of its week)."""
    if d.status != "ok" or d.review.empty:
        return 0
    from pyspark.sql import functions as F

    from lanhai.spark import ensure_table

    table = config.table("audit", "published_kpis")
    ensure_table(spark, table, PUBLISHED_COLUMNS)
    rows = [(r["iso_week_label"], r["kpi"], r["scope_type"], r["scope_value"],
             None if pd.isna(r["value"]) else float(r["value"]), d.week)
            for r in d.review[KEY + ["value"]].to_dict("records")]
    (spark.createDataFrame(rows, "iso_week_label string, kpi string, scope_type string, "
                                 "scope_value string, value double, report_week string")
     .withColumn("published_at", F.current_timestamp())
     .write.format("delta").mode("append").saveAsTable(table))
    return len(rows)
