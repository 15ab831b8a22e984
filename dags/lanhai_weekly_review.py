"""
### Weekly review: the operating team's report
Mondays 09:00 (Asia/Shanghai), on the ISO week that ended the day before (or the `week`
param). `wait_for_marts` checks the `marts.weekly_review` asset's latest event (no Spark):
it waits, rescheduling every 15 minutes for up to 6 hours, until the transform has built the
marts through the week's Sunday. If they never arrive (the quality gate stopped the transform,
or a feed is late) the wait is skipped and the report is built anyway: it then says plainly
that the week's data failed the gate, is incomplete, or is missing, instead of showing wrong
numbers. `build_report` writes HTML and PDF in Chinese and English under
`data/reports/<week>/` with `snapshot.json` (the Delta version of every mart it read) and
emits the `reports.weekly_review` asset. Runs in the `spark` pool.
"""

from __future__ import annotations

from datetime import date

from airflow.sdk import CronTriggerTimetable, Metadata, Param, PokeReturnValue, dag, task

from lanhai.assets import MARTS, REPORTS
from lanhai.dag_defaults import SPARK_POOL, START, default_args, log
from lanhai.intervals import review_week


@dag(
    dag_id="lanhai_weekly_review",
    schedule=CronTriggerTimetable("0 9 * * 1", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lanhai", "report", "weekly-review"],
    params={"week": Param(None, type=["null", "string"], pattern=r"^\d{4}-W\d{2}$",
                          description="ISO week, e.g. 2025-W23 (default: last week)")},
    doc_md=__doc__,
)
def lanhai_weekly_review():
    @task.sensor(inlets=[MARTS], poke_interval=900, timeout=6 * 3600, mode="reschedule",
                 soft_fail=True)
    def wait_for_marts(**context) -> PokeReturnValue:
        from lanhai.report.data import parse_week

        week = review_week(context)
        _, sunday = parse_week(week)
        events = context["inlet_events"][MARTS]
        reached = (events[-1].extra if len(events) else {}).get("interval_end")
        log.info("week %s ends %s; the marts were last built through %s", week, sunday, reached)
        done = bool(reached) and date.fromisoformat(reached) >= sunday
        return PokeReturnValue(is_done=done, xcom_value=week)

    @task(pool=SPARK_POOL, outlets=[REPORTS], trigger_rule="none_failed")
    def build_report(**context):
        from lanhai.audit import record_run
        from lanhai.config import load_config
        from lanhai.report import build_report as build
        from lanhai.report.data import parse_week
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        week = review_week(context)
        files = build(spark, config, week=week, progress=log.info)
        if files.status != "ok":
            log.warning("LANHAI REVIEW %s built as %s: the report says so instead of showing "
                        "numbers", week, files.status)
        details = {"week": week, "status": files.status, "folder": str(files.folder)}
        record_run(spark, config, context, "build_report", files.status, None, details,
                   interval=parse_week(week))
        yield Metadata(REPORTS, details)

    wait_for_marts() >> build_report()


lanhai_weekly_review()
