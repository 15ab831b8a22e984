"""Predictive customer value: fit BG/NBD and Gamma-Gamma for each covered week, on Spark.

Reads dbt's `mart_customer_history_weekly` (every customer's history as of each Sunday) and
writes three marts (Delta, partitioned by week, a week replaced whole):
- `clv_customers_weekly`: each active customer's P(alive), expected purchases and spend over
  the next 90 and 365 days, and the purchases they then made (the holdout);
- `clv_weekly`: the same summed per scope (all, segment, city tier), with the holdout;
- `clv_fits_weekly`: each week's parameters, its status (fitted, or why not) and the holdout
  over every customer.

The marts keep the latest `customer_value.weeks` covered weeks (26: a fit costs seconds
whatever its size). A week is scored again when dbt rebuilt its history (`dbt_built_at` newer
than the one it was scored from), and weeks older than the kept ones are deleted: an
incremental run rescores what the new days changed, which makes it equal to a full rescoring.
Each week is one group of `applyInPandas`: the fits run in parallel on the executors, a week's
customers in one pandas frame (lanhai.clv.score_week).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lanhai.clv import HORIZONS, SCORE_COLUMNS, Settings, score_week
from lanhai.config import Config
from lanhai.conflicts import retry_on_conflict
from lanhai.spark import adopt_orphan

log = logging.getLogger(__name__)

HISTORY = "mart_customer_history_weekly"
CUSTOMERS, SCOPES, FITS = "clv_customers_weekly", "clv_weekly", "clv_fits_weekly"
FLAGS = ("city_tier", "is_gen_z", "is_60_plus", "is_gen_z_pet_owner", "is_lower_tier_city")
WEEK_KEYS = ("iso_week_label", "week_end_date")


def _schema() -> str:
    cols = dict(SCORE_COLUMNS)
    cols.update({"city_tier": "string", **{f: "boolean" for f in FLAGS[1:]}})
    return ", ".join(f"{k} {v}" for k, v in cols.items())


def _pass_flags(pdf, settings):
    """score_week, carrying the customers' scope flags through to its rows."""
    out = score_week(pdf, settings)
    if out["user_id"].notna().any():
        flags = pdf.set_index("user_id")[list(FLAGS)]
        out = out.join(flags, on="user_id")
    else:
        out = out.reindex(columns=[*out.columns, *FLAGS]).astype(object)
        out = out.where(out.notna(), None)
    return out


def weeks_kept(spark: SparkSession, config: Config, settings: Settings) -> DataFrame:
    """(iso_week_label, week_end_date, history_built_at) of the latest `settings.weeks`
    covered weeks: the ones the marts hold scores for (a fit takes seconds, whatever its size,
    so the whole history of weeks would cost minutes for little)."""
    built = (spark.table(f"{config.db('marts')}.{HISTORY}")
             .groupBy("iso_week_label", "week_end_date")
             .agg(F.max("dbt_built_at").alias("history_built_at")))
    return built.orderBy(F.desc("week_end_date")).limit(settings.weeks)


def weeks_to_score(spark: SparkSession, config: Config, settings: Settings,
                   full_refresh: bool = False) -> DataFrame:
    """(iso_week_label, week_end_date, history_built_at) of the kept weeks whose history is
    newer than their scores, or every kept week on a full refresh."""
    marts = config.db("marts")
    built = weeks_kept(spark, config, settings)
    fits = f"{marts}.{FITS}"
    adopt_orphan(spark, fits)
    if full_refresh or not spark.catalog.tableExists(fits):
        return built
    scored = spark.table(fits).select("iso_week_label",
                                      F.col("history_built_at").alias("scored_from"))
    return (built.join(scored, "iso_week_label", "left")
            .where(F.col("scored_from").isNull()
                   | (F.col("history_built_at") > F.col("scored_from")))
            .drop("scored_from"))


def _write(spark: SparkSession, df: DataFrame, table: str, weeks: list[str],
           full_refresh: bool) -> None:
    """Replace the weeks' partitions of `table` (create it on the first run)."""
    adopt_orphan(spark, table)

    def write():
        # static: the session's dynamic partition overwrite (dbt's insert_overwrite) would
        # refuse both a schema overwrite and replaceWhere
        writer = df.write.format("delta").mode("overwrite").option("partitionOverwriteMode",
                                                                    "static")
        if full_refresh or not spark.catalog.tableExists(table):
            (writer.option("overwriteSchema", "true").partitionBy("iso_week_label")
             .saveAsTable(table))
            return
        listed = ", ".join(f"'{w}'" for w in weeks)
        writer.option("replaceWhere", f"iso_week_label in ({listed})").saveAsTable(table)

    retry_on_conflict(write, table=table)


def run(spark: SparkSession, config: Config, full_refresh: bool = False,
        progress: Callable[[str], None] | None = None) -> dict:
    """Score the weeks to score; return what was done."""
    began = time.perf_counter()
    say = progress or log.info
    marts = config.db("marts")
    settings = Settings.of(config.raw.get("customer_value"))
    todo = weeks_to_score(spark, config, settings, full_refresh).collect()
    weeks = sorted(r["iso_week_label"] for r in todo)
    pruned = _prune(spark, config, settings)
    if not weeks:
        say("customer value: every week is scored already")
        return {"weeks": 0, "pruned": pruned, "seconds": round(time.perf_counter() - began, 1)}
    say(f"customer value: fitting {len(weeks)} week(s), {weeks[0]}..{weeks[-1]}")
    built = spark.createDataFrame(todo).drop("week_end_date")
    history = spark.table(f"{marts}.{HISTORY}").where(F.col("iso_week_label").isin(weeks))
    scored = (history.drop("scopes", "dbt_built_at")
              .groupBy("iso_week_label")
              .applyInPandas(partial(_pass_flags, settings=settings), schema=_schema())
              .join(built, "iso_week_label")
              .withColumn("scored_at", F.current_timestamp()))
    # computed once (the fits are the cost), read by the three writes below
    from pyspark import StorageLevel

    scored = scored.persist(StorageLevel.DISK_ONLY)
    try:
        scored.count()
        customers = (scored.where("user_id is not null and is_active")
                     .select(*WEEK_KEYS, "user_id", "frequency", "recency_days", "age_days",
                             "avg_repeat_spend_cny", "p_alive",
                             "expected_spend_per_purchase_cny",
                             *[f"expected_purchases_{d}d" for d in HORIZONS],
                             *[f"expected_spend_{d}d_cny" for d in HORIZONS],
                             F.when(F.col("is_holdout_covered"), F.col("paid_days_next_90d"))
                             .alias("purchases_next_90d"),
                             *FLAGS, "scored_at"))
        _write(spark, customers, f"{marts}.{CUSTOMERS}", weeks, full_refresh)
        _write(spark, _scopes(spark, config, weeks), f"{marts}.{SCOPES}", weeks,
               full_refresh)
        # last: a week is scored once its fit is written, so a run killed before this line
        # leaves the weeks to be scored again by the next one
        _write(spark, _fits(scored), f"{marts}.{FITS}", weeks, full_refresh)
    finally:
        scored.unpersist()
    fits = {r["iso_week_label"]: r["fit_status"] for r in
            spark.table(f"{marts}.{FITS}").where(F.col("iso_week_label").isin(weeks))
            .select("iso_week_label", "fit_status").collect()}
    fitted = sum(1 for s in fits.values() if s == "fitted")
    seconds = round(time.perf_counter() - began, 1)
    say(f"customer value: {fitted} of {len(weeks)} week(s) fitted in {seconds} s")
    return {"weeks": len(weeks), "fitted": fitted, "first": weeks[0], "last": weeks[-1],
            "pruned": pruned, "seconds": seconds}


def _prune(spark: SparkSession, config: Config, settings: Settings) -> int:
    """Delete the scores of weeks older than the kept ones (the data moved on), so that the
    marts hold what a full rescoring would write. Returns the weeks deleted."""
    marts = config.db("marts")
    if not spark.catalog.tableExists(f"{marts}.{FITS}"):
        return 0
    oldest = weeks_kept(spark, config, settings).agg(F.min("week_end_date")).first()[0]
    if oldest is None:
        return 0
    old = spark.table(f"{marts}.{FITS}").where(F.col("week_end_date") < F.lit(oldest)).count()
    if old:
        for table in (CUSTOMERS, SCOPES, FITS):
            name = f"{marts}.{table}"
            retry_on_conflict(lambda name=name: spark.sql(
                f"delete from {name} where week_end_date < date'{oldest}'"), table=name)
    return old


def _fits(scored: DataFrame) -> DataFrame:
    """A row per week: its status, parameters and the holdout over every fitted customer."""
    params = ["r", "alpha", "a", "b", "p", "q", "v"]
    covered = F.max(F.col("is_holdout_covered").cast("int")) == 1
    return (scored.groupBy(*WEEK_KEYS).agg(
        F.first("fit_status").alias("fit_status"),
        *[F.first(p).alias(p) for p in params],
        F.first("fit_customers").alias("customers"),
        F.first("fit_repeat_customers").alias("repeat_customers"),
        F.count_if(F.col("is_active")).alias("active_customers"),
        F.sum("expected_purchases_90d").alias("expected_purchases_90d"),
        F.when(covered, F.sum("paid_days_next_90d")).alias("purchases_next_90d"),
        F.first("fit_seconds").alias("fit_seconds"),
        F.first("history_built_at").alias("history_built_at"),
        F.first("scored_at").alias("scored_at"))
        .withColumn("holdout_error", F.col("expected_purchases_90d")
                    / F.col("purchases_next_90d") - 1))


def _scopes(spark: SparkSession, config: Config, weeks: list[str]) -> DataFrame:
    """The active customers' predictions summed per week and scope (the scopes dbt gave each
    customer's history: all, segments, city tier)."""
    marts = config.db("marts")
    customers = spark.table(f"{marts}.{CUSTOMERS}").where(F.col("iso_week_label").isin(weeks))
    scopes = (spark.table(f"{marts}.{HISTORY}").where(F.col("iso_week_label").isin(weeks))
              .select("iso_week_label", "user_id", F.explode("scopes").alias("scope")))
    covered = F.count("purchases_next_90d") == F.count("*")
    # a sort-merge join: at `medium` a catch-up's 26 weeks of customers are millions of rows,
    # and a broadcast of either side (with its dynamic-pruning subquery) ran the driver out of
    # its 6 GB heap (bench-history, 2026-12-05)
    return (customers.hint("merge").join(scopes, ["iso_week_label", "user_id"])
            .groupBy(*WEEK_KEYS, F.col("scope.scope_type").alias("scope_type"),
                     F.col("scope.scope_value").alias("scope_value"))
            .agg(F.count("*").alias("active_customers"),
                 F.avg("p_alive").alias("avg_p_alive"),
                 *[F.sum(f"expected_purchases_{d}d").alias(f"expected_purchases_{d}d")
                   for d in HORIZONS],
                 *[F.sum(f"expected_spend_{d}d_cny").alias(f"expected_spend_{d}d_cny")
                   for d in HORIZONS],
                 F.when(covered, F.sum("purchases_next_90d")).alias("purchases_next_90d"),
                 F.max("scored_at").alias("scored_at"))
            .withColumn("expected_spend_365d_per_customer_cny",
                        F.col("expected_spend_365d_cny") / F.col("active_customers")))
