"""End-to-end freshness (PLAN.md "The rest of the plan"): the time from a file's arrival in the
landing zone to the first mart build that includes it.

Two operational logs in the `audit` schema hold what it needs, and the data-quality mart turns
them into a median and a 95th percentile per week and table (dbt's int_file_freshness):
- `audit.landed_files`: each file bronze took, once, with its arrival (the file's modification
  time in the landing zone) and when bronze took it (`record_landed_files`, per micro-batch,
  an idempotent Delta append: a replayed batch adds nothing);
- `audit.mart_builds`: when each transform started (`record_build`, before dbt runs; kind
  `transform`). A file is in every build that started after bronze took it; its first such
  build is the one that put it in the marts. A rerun of the transform adds a build but changes
  no file's first. When a build's dbt build passed, a second row with its build_id and kind
  `passed` (`record_build_passed`): an incremental run's data tests read the rows dated from
  what silver loaded since the last such build started (dbt_project/macros/test_scope.sql).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from lanhai.config import Config

LANDED_FILES_COLUMNS = ("entity string, source_file string, landing_date date, "
                        "file_modified_at timestamp, ingested_at timestamp, run_id string, "
                        "batch_id long")
MART_BUILDS_COLUMNS = "build_id string, started_at timestamp, kind string"


def ensure_logs(spark: SparkSession, config: Config) -> None:
    from lanhai.spark import ensure_table

    ensure_table(spark, config.table("audit", "landed_files"), LANDED_FILES_COLUMNS)
    ensure_table(spark, config.table("audit", "mart_builds"), MART_BUILDS_COLUMNS)


def _modified(path: Path) -> datetime | None:
    """The file's modification time (local wall clock, like Spark's timestamps), not following
    a symbolic link; None if it is gone."""
    try:
        return datetime.fromtimestamp(os.lstat(path).st_mtime)
    except OSError:
        return None


def record_landed_files(spark: SparkSession, config: Config, entity: str, files: list[str],
                        run_id: str, batch_id: int, txn_app_id: str) -> int:
    """Append the files of one bronze micro-batch (paths relative to the landing zone)."""
    import re

    from pyspark.sql import functions as F

    if not files:
        return 0
    rows = []
    for rel in sorted(files):
        m = re.search(r"/dt=(\d{4}-\d{2}-\d{2})/", "/" + rel)
        rows.append((entity, rel, datetime.strptime(m.group(1), "%Y-%m-%d").date() if m
                     else None, _modified(config.landing / rel), run_id, batch_id))
    (spark.createDataFrame(rows, "entity string, source_file string, landing_date date, "
                                 "file_modified_at timestamp, run_id string, batch_id long")
     .select("entity", "source_file", "landing_date", "file_modified_at",
             F.current_timestamp().alias("ingested_at"), "run_id", "batch_id")
     .write.format("delta").mode("append")
     .option("txnAppId", txn_app_id).option("txnVersion", batch_id)
     .saveAsTable(config.table("audit", "landed_files")))
    return len(rows)


def record_build(spark: SparkSession, config: Config, kind: str = "transform") -> str:
    """Record that a build of the marts starts now; call it before dbt runs."""
    from pyspark.sql import functions as F

    ensure_logs(spark, config)
    build_id = uuid.uuid4().hex[:12]
    (spark.createDataFrame([(build_id, kind)], "build_id string, kind string")
     .select("build_id", F.current_timestamp().alias("started_at"), "kind")
     .write.format("delta").mode("append").saveAsTable(config.table("audit", "mart_builds")))
    return build_id


def record_build_passed(spark: SparkSession, config: Config, build_id: str) -> None:
    """Record that the build `record_build` started (its id) passed: its models were built and
    their data tests passed. The next incremental run tests what was loaded since it started."""
    from pyspark.sql import functions as F

    (spark.createDataFrame([(build_id, "passed")], "build_id string, kind string")
     .select("build_id", F.current_timestamp().alias("started_at"), "kind")
     .write.format("delta").mode("append").saveAsTable(config.table("audit", "mart_builds")))
