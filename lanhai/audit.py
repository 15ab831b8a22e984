"""The pipeline audit: one row per Airflow task run in `audit.pipeline_runs` (what it did, for
which interval, how many rows), beside the ingest's own `audit.ingest_runs`."""

from __future__ import annotations

import json
from datetime import date

from lanhai.config import Config
from lanhai.intervals import interval_of

PIPELINE_RUNS_COLUMNS = ("dag_id string, run_id string, task_id string, interval_start date, "
                         "interval_end date, status string, rows long, details string, "
                         "recorded_at timestamp")


def record_run(spark, config: Config, context, task_id: str, status: str, rows: int | None,
               details: dict, interval: tuple[date, date] | None = None) -> None:
    """Append one row to audit.pipeline_runs: what a task did for which interval (the run's,
    unless the task says otherwise, e.g. the week a weekly review covers)."""
    from pyspark.sql import functions as F

    from lanhai.spark import ensure_table

    table = config.table("audit", "pipeline_runs")
    ensure_table(spark, table, PIPELINE_RUNS_COLUMNS)
    start, end = interval or interval_of(context)
    ti = context.get("task_instance")
    row = [(getattr(ti, "dag_id", None), context.get("run_id"), task_id, start, end, status,
            rows, json.dumps(details, default=str)[:4000])]
    schema = PIPELINE_RUNS_COLUMNS.replace(", recorded_at timestamp", "")
    spark.createDataFrame(row, schema).withColumn("recorded_at", F.current_timestamp()) \
        .write.format("delta").mode("append").saveAsTable(table)
