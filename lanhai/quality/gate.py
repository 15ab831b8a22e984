"""The quality gate: Great Expectations validates silver before any mart is built.

For each silver table, the rows of the data interval (by business date) are validated against
a suite built from its contract (keys unique and present, required fields, enums, ranges:
critical) and the business rules that silver's per-record rules cannot see (critical: orders
whose user is still unknown after the grace period, a day whose order volume collapses against
the days before it; warnings: implausible amounts, deliveries before shipping, stale data).
Every expectation's result goes to `audit.quality_results`; Data Docs are rebuilt under
`<data>/quality/gx/uncommitted/data_docs/local_site/`. A failed critical expectation raises
`QualityGateFailed`, naming the table, the rule and how many rows broke it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lanhai.config import Config
from lanhai.contracts import Contract, contracts
from lanhai.quality import QUALITY_RESULTS_COLUMNS

log = logging.getLogger(__name__)

# The business date that puts a silver row in a data interval.
BUSINESS_DATE = {
    "orders": "to_date(coalesce(paid_at, created_at))",
    "refunds": "to_date(refunded_at)",
    "shipments": "to_date(shipped_at)",
    "inventory": "snapshot_date",
    "spend": "spend_date",
    "fx_rates": "rate_date",
}
# The business rules' settings: conf/local.yaml's `quality` block is their one home (every
# profile extends it); a profile may override any of them.
RULES = ("late_reference_grace_days", "volume_floor", "volume_days", "max_line_gmv_cny",
         "freshness_days", "freshness_days_by_entity")


class QualityGateFailed(RuntimeError):
    """A critical expectation failed: the transform must not run on this interval."""


@dataclass(frozen=True)
class Check:
    """One expectation with the plain-words rule it enforces."""

    table: str
    rule: str
    severity: str  # critical | warning
    expectation: object


@dataclass
class GateResult:
    run_id: str
    checks: int
    critical_failures: list[dict]
    warnings: list[dict]
    docs_index: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.critical_failures


def settings(config: Config) -> dict:
    """The gate's business rules of a profile (its `quality` block), all of them or an error
    that names what is missing."""
    s = config.raw.get("quality") or {}
    missing = [k for k in RULES if k not in s]
    if missing:
        raise ValueError(f"profile {config.profile!r}: the quality block lacks {missing} "
                         f"(conf/local.yaml has every rule; a profile extends it)")
    return s


# --- suites ---------------------------------------------------------------------------------
def contract_checks(c: Contract) -> list[Check]:
    """Checks from a contract: the key, required fields, enums, ranges (all critical)."""
    import great_expectations as gx

    ex = gx.expectations
    out = []
    if len(c.key) == 1:
        out.append(Check(c.entity, f"{c.key[0]} is unique", "critical",
                         ex.ExpectColumnValuesToBeUnique(column=c.key[0])))
    else:
        out.append(Check(c.entity, f"({', '.join(c.key)}) is unique", "critical",
                         ex.ExpectCompoundColumnsToBeUnique(column_list=list(c.key))))
    for f in c.fields:
        if f.is_nested:
            continue
        if f.required:
            out.append(Check(c.entity, f"{f.name} is present", "critical",
                             ex.ExpectColumnValuesToNotBeNull(column=f.name)))
        if f.enum:
            out.append(Check(c.entity, f"{f.name} in {list(f.enum)}", "critical",
                             ex.ExpectColumnValuesToBeInSet(column=f.name,
                                                            value_set=list(f.enum))))
        if f.min is not None or f.max is not None:
            out.append(Check(c.entity, f"{f.name} within [{f.min}, {f.max}]", "critical",
                             ex.ExpectColumnValuesToBeBetween(column=f.name, min_value=f.min,
                                                              max_value=f.max)))
    return out


def business_checks(entity: str, s: dict) -> list[Check]:
    """The rules silver's per-record checks cannot see (they span rows, tables or days)."""
    import great_expectations as gx

    ex = gx.expectations
    out = []
    if entity == "orders":
        out.append(Check(
            entity, f"user known within {s['late_reference_grace_days']} days of the order",
            "critical", ex.ExpectColumnValuesToBeInSet(column="_user_missing_after_grace",
                                                       value_set=[False])))
    if entity == "order_items":
        out.append(Check(entity, f"line GMV within [0, {s['max_line_gmv_cny']:,}] CNY", "warning",
                         ex.ExpectColumnValuesToBeBetween(column="line_gmv_cny", min_value=0,
                                                          max_value=s["max_line_gmv_cny"])))
    if entity == "shipments":
        out.append(Check(entity, "delivered after shipped", "warning",
                         ex.ExpectColumnValuesToBeInSet(column="_delivered_before_shipped",
                                                        value_set=[False])))
    return out


def volume_checks(s: dict) -> list[Check]:
    """On the frame of the interval's days (one row per day, orders_daily_frame): a day with
    no orders at all (a missing file) has no row in silver, so it is judged here."""
    import great_expectations as gx

    return [Check(
        "orders", f"daily order volume at least {s['volume_floor']:.0%} of the median of the "
                  f"{s['volume_days']} days before", "critical",
        gx.expectations.ExpectColumnValuesToBeInSet(column="_volume_collapsed",
                                                    value_set=[False]))]


def _freshness_days(entity: str, s: dict) -> int | None:
    return s["freshness_days_by_entity"].get(entity, s["freshness_days"])


def freshness_checks(entity: str, s: dict) -> list[Check]:
    """Event feeds (a business date per row): rows in the interval, and not stale."""
    import great_expectations as gx

    if entity not in BUSINESS_DATE and entity != "order_items":
        return []
    ex = gx.expectations
    return [Check(entity, "rows in the interval", "warning",
                  ex.ExpectTableRowCountToBeBetween(min_value=1)),
            Check(entity, f"latest data within {_freshness_days(entity, s)} days of the interval's "
                          "end",
                  "warning", ex.ExpectColumnValuesToBeInSet(column="_stale", value_set=[False]))]


# --- the rows to validate -------------------------------------------------------------------
def business_date(entity: str) -> str:
    """The SQL of an entity's business date: an event feed's own (BUSINESS_DATE), else the
    day of its contract's version (a reference, or a sparse feed such as the survey)."""
    return BUSINESS_DATE.get(entity) or f"to_date({contracts()[entity].version})"


def validation_frame(spark: SparkSession, config: Config, entity: str, start: date,
                     end: date, s: dict) -> DataFrame | None:
    """The silver rows of the interval, with the computed columns the business rules need."""
    table = config.table("silver", entity)
    if not spark.catalog.tableExists(table):
        return None
    df = spark.table(table)
    cols = [c for c in df.columns if not c.startswith("_") or c == "_silver_loaded_at"]
    when = BUSINESS_DATE.get(entity)
    if entity == "order_items":
        orders = spark.table(config.table("silver", "orders")).select(
            "order_id", F.expr(BUSINESS_DATE["orders"]).alias("_business_date"))
        df = df.select(*cols).join(orders, "order_id", "left")
    elif when:
        df = df.select(*cols, F.expr(when).alias("_business_date"))
    else:
        df = df.select(*cols, F.expr(business_date(entity)).alias("_business_date"))
    in_interval = df.where(F.col("_business_date").between(F.lit(start), F.lit(end)))
    latest = df.agg(F.max("_business_date")).first()[0]
    days = _freshness_days(entity, s)
    stale = days is not None and (latest is None or latest < end - timedelta(days=days))
    out = in_interval.withColumn("_stale", F.lit(stale))
    if entity == "orders":
        users = spark.table(config.table("silver", "users")).select(
            F.col("user_id").alias("_known_user")).distinct()
        grace = end - timedelta(days=s["late_reference_grace_days"])
        out = out.join(users, out.user_id == users._known_user, "left").withColumn(
            "_user_missing_after_grace",
            F.col("_known_user").isNull() & (F.to_date("created_at") <= F.lit(grace))
        ).drop("_known_user")
    if entity == "shipments":
        out = out.withColumn("_delivered_before_shipped",
                             F.coalesce(F.col("delivered_at") < F.col("shipped_at"), F.lit(False)))
    return out


def orders_daily_frame(spark: SparkSession, config: Config, start: date, end: date,
                       s: dict) -> DataFrame | None:
    """One row per day of the interval with its order count and whether it collapsed."""
    table = config.table("silver", "orders")
    if not spark.catalog.tableExists(table):
        return None
    orders = spark.table(table).select(F.expr(BUSINESS_DATE["orders"]).alias("_business_date"))
    return _collapsed_days(orders, start, end, s)


def _collapsed_days(orders: DataFrame, start: date, end: date, s: dict) -> DataFrame:
    """Every day of the interval that has `volume_days` days with orders before it, its order
    count (0 for a day with none), and whether that count is under `volume_floor` x the median
    of those days."""
    n = s["volume_days"]
    daily = orders.where(F.col("_business_date").between(
        F.lit(start - timedelta(days=n)), F.lit(end))).groupBy("_business_date").count() \
        .collect()
    counts = {r["_business_date"]: r["count"] for r in daily}
    rows = []
    day = start
    while day <= end:
        prior = [counts.get(day - timedelta(days=k), 0) for k in range(1, n + 1)]
        if all(p > 0 for p in prior):
            median = sorted(prior)[n // 2]
            rows.append((day, counts.get(day, 0), median,
                         counts.get(day, 0) < s["volume_floor"] * median))
        day += timedelta(days=1)
    return orders.sparkSession.createDataFrame(
        rows, "_business_date date, orders long, median_before long, _volume_collapsed boolean")


# --- the run --------------------------------------------------------------------------------
def run_gate(spark: SparkSession, config: Config, start: date, end: date,
             entities: list[str] | None = None, run_id: str | None = None,
             raise_on_failure: bool = True) -> GateResult:
    """Validate silver for [start, end]; record the results; raise on a critical failure."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")  # GE's per-expectation progress bars
    import great_expectations as gx

    began = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex[:12]
    s = settings(config)
    root = config.path("quality")
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    source = context.data_sources.add_or_update_spark(name="silver")
    names = entities or [*contracts(), "order_items"]
    validations = []
    for entity in names:
        df = validation_frame(spark, config, entity, start, end, s)
        if df is None:
            continue
        df = df.persist()
        checks = (contract_checks(contracts()[entity]) if entity in contracts() else []) \
            + business_checks(entity, s) + freshness_checks(entity, s)
        validations.append((entity, _validation(context, source, f"silver_{entity}", entity,
                                                checks), df))
        if entity == "orders":  # one row per day: a day without orders is judged too
            daily = orders_daily_frame(spark, config, start, end, s).persist()
            validations.append((entity, _validation(context, source, "silver_orders_daily",
                                                    entity, volume_checks(s)), daily))
    rows, critical, warnings = [], [], []
    for entity, vd, df in validations:
        result = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
        for r in result.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            res = r.result or {}
            unexpected = res.get("unexpected_count")
            severity = meta.get("severity", "critical")
            row = {"run_id": run_id, "interval_start": start, "interval_end": end,
                   "domain": contracts()[entity].domain if entity in contracts()
                   else "transaction", "table_name": entity, "expectation": cfg.type,
                   "rule": meta.get("rule", cfg.type), "severity": severity,
                   "success": bool(r.success), "element_count": res.get("element_count"),
                   "unexpected_count": unexpected,
                   "details": json.dumps({k: res[k] for k in ("partial_unexpected_list",
                                                              "observed_value") if k in res},
                                         default=str)[:2000]}
            rows.append(row)
            if not r.success:
                (critical if severity == "critical" else warnings).append(row)
    docs = _build_docs(context)
    _record(spark, config, rows)
    for _, _, df in validations:
        df.unpersist()
    out = GateResult(run_id, len(rows), critical, warnings, docs,
                     round(time.perf_counter() - began, 1))
    for w in warnings:
        log.warning("quality warning: %s: %s (%s rows)", w["table_name"], w["rule"],
                    w["unexpected_count"])
    if critical and raise_on_failure:
        raise QualityGateFailed(failure_message(critical, start, end))
    return out


def failure_message(critical: list[dict], start: date, end: date) -> str:
    lines = [f"quality gate failed for {start}..{end}: {len(critical)} critical check(s)"]
    for c in critical:
        n = c["unexpected_count"]
        lines.append(f"  silver.{c['table_name']}: {c['rule']}"
                     + (f" ({n:,} rows)" if n is not None else ""))
    return "\n".join(lines)


def _validation(context, source, name: str, entity: str, checks: list[Check]):
    """A stored suite + validation definition over a dataframe asset; each expectation keeps
    its rule, table and severity in its meta (the results and Data Docs show them)."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for ch in checks:
        e = ch.expectation
        e.severity = ch.severity
        e.meta = {"rule": ch.rule, "table": entity, "severity": ch.severity}
        suite.add_expectation(e)
    suite = context.suites.add_or_update(suite)
    return context.validation_definitions.add_or_update(gx.ValidationDefinition(
        name=name, data=_batch_definition(_asset(source, name)), suite=suite))


def _asset(source, name: str):
    try:
        return source.get_asset(name)
    except (LookupError, ValueError, KeyError):
        return source.add_dataframe_asset(name=name)


def _batch_definition(asset):
    try:
        return asset.get_batch_definition("whole")
    except (LookupError, ValueError, KeyError):
        return asset.add_batch_definition_whole_dataframe("whole")


def _build_docs(context) -> str | None:
    """Rebuild Data Docs (the validation results just stored) and return the index path."""
    try:
        context.build_data_docs()
        site = context.get_docs_sites_urls()
        return site[0]["site_url"] if site else None
    except Exception as err:  # Data Docs are a convenience; the results are in the audit table
        log.warning("Data Docs not built: %s", err)
        return None


def _record(spark: SparkSession, config: Config, rows: list[dict]) -> None:
    from lanhai.spark import ensure_table

    table = config.table("audit", "quality_results")
    ensure_table(spark, table, QUALITY_RESULTS_COLUMNS)
    if not rows:
        return
    names = [c.split()[0] for c in QUALITY_RESULTS_COLUMNS.split(", ")]
    df = spark.createDataFrame([tuple(r.get(n) for n in names if n != "checked_at")
                                for r in rows],
                               ", ".join(c for c in QUALITY_RESULTS_COLUMNS.split(", ")
                                         if not c.startswith("checked_at")))
    df.withColumn("checked_at", F.current_timestamp()).select(*names) \
        .write.format("delta").mode("append").saveAsTable(table)
