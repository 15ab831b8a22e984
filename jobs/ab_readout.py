"""The A/B readout table: dbt's per-variant counts (marts.mart_ab_conversion) through
lanhai.experiments.readout (scipy) into marts.ab_readout, one row per experiment, rewritten
whole when a readout changed (a few rows) and left alone when none did. The weekly review
shows the readouts that concluded in its week; the report reads this table."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lanhai.config import Config
from lanhai.experiments import readout

SCHEMA = ("experiment_id string, experiment_name string, concluded_week string, "
          "control_users long, control_converted long, control_conversion double, "
          "treatment_users long, treatment_converted long, treatment_conversion double, "
          "lift_abs double, lift_rel double, ci_low double, ci_high double, p_value double, "
          "planned_treatment_share double, planned_users_per_variant long, "
          "srm_p_value double, sample_ratio_mismatch boolean, enough_data boolean, "
          "verdict string")


def run(spark: SparkSession, config: Config,
        progress: Callable[[str], None] | None = None) -> dict:
    source = config.table("marts", "mart_ab_conversion")
    if not spark.catalog.tableExists(source):
        return {"experiments": 0, "skipped": f"{source} is not built yet"}
    rows = [{**r.asDict(), "planned_treatment_share": float(r["planned_treatment_share"])}
            for r in spark.table(source).collect()]
    out = [r.row() for r in readout(rows)]
    target = config.table("marts", "ab_readout")
    fresh = spark.createDataFrame(out, SCHEMA)
    # a rerun on the same counts commits nothing (computed_at says when the readout changed)
    unchanged = spark.catalog.tableExists(target) and (
        _same(spark.table(target).drop("computed_at"), fresh))
    if not unchanged:
        (fresh.withColumn("computed_at", F.current_timestamp())
         .write.format("delta").mode("overwrite").option("overwriteSchema", "true")
         .saveAsTable(target))
    if progress:
        for r in out:
            progress(f"{r['experiment_id']}: {r['verdict']}")
    return {"experiments": len(out), "written": not unchanged,
            "concluded": sorted(r["experiment_id"] for r in out if r["concluded_week"])}


def _same(a, b) -> bool:
    """The same rows (as multisets), column by column; a different schema is not the same."""
    if a.schema.simpleString() != b.schema.simpleString():
        return False
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()
