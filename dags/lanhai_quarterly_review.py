"""
### Quarterly review: category growth, user feedback, merchant satisfaction
The first Monday of each quarter, 09:00 (Asia/Shanghai), on the quarter that just ended (or the
`quarter` param). `wait_for_marts` checks the `marts.weekly_review` asset's latest event (no
Spark): it waits, rescheduling every 15 minutes for up to 6 hours, until the transform has
built the marts through the quarter's last day; if they never arrive the report is built anyway
and says the quarter is incomplete. `build_report` writes HTML and PDF in Chinese and English
under `data/reports/quarterly/<quarter>/` with `snapshot.json` (the Delta version of every mart
it read) and emits the `reports.quarterly_review` asset. Runs in the `spark` pool.
"""

from __future__ import annotations

from datetime import date

from airflow.sdk import CronTriggerTimetable, Metadata, Param, PokeReturnValue, dag, task

from lanhai.assets import MARTS, QUARTERLY_REPORTS
from lanhai.dag_defaults import SPARK_POOL, START, default_args, log
from lanhai.intervals import review_quarter


@dag(
    dag_id="lanhai_quarterly_review",
    # MON#1: the first Monday of January, April, July and October
    schedule=CronTriggerTimetable("0 9 * 1,4,7,10 MON#1", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lanhai", "report", "quarterly-review"],
    params={"quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                             description="calendar quarter, e.g. 2025Q2 (default: the "
                                         "quarter that just ended)")},
    doc_md=__doc__,
)
def lanhai_quarterly_review():
    @task.sensor(inlets=[MARTS], poke_interval=900, timeout=6 * 3600, mode="reschedule",
                 soft_fail=True)
    def wait_for_marts(**context) -> PokeReturnValue:
        from lanhai.report.quarterly import parse_quarter

        quarter = review_quarter(context)
        _, last_day = parse_quarter(quarter)
        events = context["inlet_events"][MARTS]
        reached = (events[-1].extra if len(events) else {}).get("interval_end")
        log.info("quarter %s ends %s; the marts were last built through %s", quarter,
                 last_day, reached)
        done = bool(reached) and date.fromisoformat(reached) >= last_day
        return PokeReturnValue(is_done=done, xcom_value=quarter)

    @task(pool=SPARK_POOL, outlets=[QUARTERLY_REPORTS], trigger_rule="none_failed")
    def build_report(**context):
        from lanhai.audit import record_run
        from lanhai.config import load_config
        from lanhai.report.quarterly import build_quarterly_report, parse_quarter
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        quarter = review_quarter(context)
        files = build_quarterly_report(spark, config, quarter=quarter, progress=log.info)
        details = {"quarter": quarter, "status": files.status, "folder": str(files.folder)}
        record_run(spark, config, context, "build_quarterly_report", files.status, None,
                   details, interval=parse_quarter(quarter))
        yield Metadata(QUARTERLY_REPORTS, details)

    wait_for_marts() >> build_report()


lanhai_quarterly_review()
