"""What every Lanhai DAG shares: owner, start date, retries, the failure callback, the pool.

Nothing here starts Spark or dbt at import: the DAG files import this module when Airflow
parses them. Spark work runs inside tasks, in the `spark` pool (one slot on the embedded
catalog: one Spark process at a time; sized for the cluster on the cluster profile, see
docs/catalog.md).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from lanhai.intervals import SHANGHAI, interval_of

log = logging.getLogger("lanhai.airflow")
OWNER = "data-engineering"
SPARK_POOL = "spark"
START = datetime(2024, 1, 1, tzinfo=SHANGHAI)


def on_failure(context) -> None:
    """Failure callback: one clear line with what failed, for which interval, and why."""
    ti = context.get("task_instance")
    start, end = interval_of(context)
    log.error("LANHAI FAILURE dag=%s task=%s run=%s interval=%s..%s try=%s: %s",
              getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"),
              context.get("run_id"), start, end, getattr(ti, "try_number", "?"),
              context.get("exception"))


def default_args() -> dict:
    """Every task: the owner, retries with exponential backoff (LANHAI_TASK_RETRIES, 2 by
    default; the tests set 0), and the failure callback."""
    return {
        "owner": OWNER,
        "retries": int(os.environ.get("LANHAI_TASK_RETRIES", "2")),
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": on_failure,
    }
