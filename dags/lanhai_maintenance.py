"""
### Maintenance: Delta OPTIMIZE and VACUUM
Sundays 03:00 (Asia/Shanghai). Compacts the small files that daily MERGEs and appends leave
(`OPTIMIZE`), then removes files no longer referenced and older than the retention
(`VACUUM ... RETAIN n HOURS`, `maintenance.vacuum_retain_hours`, at least 168: Delta's own
safety check stays on, so time travel and running readers keep a week). Table history
(`DESCRIBE HISTORY`) is kept; the tables done go to `audit.pipeline_runs`
(`lanhai.maintenance`).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from lanhai.dag_defaults import SPARK_POOL, START, default_args


@dag(
    dag_id="lanhai_maintenance",
    schedule="0 3 * * 0",  # Asia/Shanghai: the start date's time zone
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lanhai", "maintenance", "delta"],
    doc_md=__doc__,
)
def lanhai_maintenance():
    @task(pool=SPARK_POOL)
    def optimize_and_vacuum(**context) -> list[str]:
        from lanhai.audit import record_run
        from lanhai.config import load_config
        from lanhai.maintenance import optimize_and_vacuum, retain_hours
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        done = optimize_and_vacuum(spark, config)
        record_run(spark, config, context, "optimize_and_vacuum", "success", len(done),
                   {"tables": done, "retain_hours": retain_hours(config)})
        return done

    optimize_and_vacuum()


lanhai_maintenance()
