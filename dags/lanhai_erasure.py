"""
### PIPL erasure
Trigger with `{"user_ids": ["U00000289"]}` (the UI's form asks for them). Removes each person
from the landing zone, every table and Delta version, the marts (rebuilt) and the files the
lakehouse wrote; their orders stay under a random surrogate (`lanhai.erasure`). The run's log
shows counts only, `audit.erasures` records the request without the ids. Run it when no ingest
or dbt run writes: its zero-retention VACUUM breaks a reader that is on an older version. A
failed run is finished by triggering it again with the same ids (retries do the same). See
docs/ingest.md, "Erasing a person".
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from lanhai.dag_defaults import SPARK_POOL, START, default_args, log


@dag(
    dag_id="lanhai_erasure",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={"user_ids": Param([], type="array", items={"type": "string"}, minItems=1,
                              description="the account ids to erase")},
    render_template_as_native_obj=True,
    tags=["lanhai", "pipl"],
    doc_md=__doc__,
)
def lanhai_erasure():
    @task(pool=SPARK_POOL)
    def erase(params=None, **context) -> dict:
        from lanhai.audit import record_run
        from lanhai.config import load_config
        from lanhai.erasure import erase_users
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        done = erase_users(spark, config, list(params["user_ids"]), on_step=log.info)
        counts = {"request_id": done.request_id, "users": done.users,
                  "landing_files": len(done.landing_files), "tables": len(done.tables),
                  "models_rebuilt": len(done.models_rebuilt),
                  "files_scrubbed": len(done.files_scrubbed)}
        record_run(spark, config, context, "erase", "success", done.users, counts)
        return counts

    erase()


lanhai_erasure()
