"""What the Airflow DAGs share: assets, default arguments, the failure callback, the data
interval of a run (also for asset-triggered runs), and the pipeline audit.

Nothing here starts Spark or dbt at import: the DAG files import this module when Airflow
parses them. Spark work runs inside tasks, in the `spark` pool (one slot on the embedded
catalog: one Spark process at a time, see docs/catalog.md).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from lanhai.contracts import contracts

log = logging.getLogger("lanhai.airflow")
SHANGHAI = ZoneInfo("Asia/Shanghai")
OWNER = "data-engineering"
SPARK_POOL = "spark"
START = datetime(2024, 1, 1, tzinfo=SHANGHAI)
DERIVED = {"transaction": ["order_items"]}  # silver tables that are part of another entity
PIPELINE_RUNS_COLUMNS = ("dag_id string, run_id string, task_id string, interval_start date, "
                         "interval_end date, status string, rows long, details string, "
                         "recorded_at timestamp")


def domains() -> dict[str, list[str]]:
    """Each source domain and the silver tables its ingest writes."""
    out: dict[str, list[str]] = {}
    for c in contracts().values():
        out.setdefault(c.domain, []).append(c.entity)
    for domain, extra in DERIVED.items():
        out[domain] += extra
    return out


def silver_asset(table: str):
    from airflow.sdk import Asset

    return Asset(name=f"silver.{table}", uri=f"lanhai://silver/{table}", group="silver")


def validated_asset():
    from airflow.sdk import Asset

    return Asset(name="quality.silver_validated", uri="lanhai://quality/silver_validated",
                 group="quality")


def marts_asset():
    from airflow.sdk import Asset

    return Asset(name="marts.weekly_review", uri="lanhai://marts/weekly_review", group="marts")


def on_failure(context) -> None:
    """Failure callback: one clear line with what failed, for which interval, and why."""
    ti = context.get("task_instance")
    start, end = interval_of(context)
    log.error("LANHAI FAILURE dag=%s task=%s run=%s interval=%s..%s try=%s: %s",
              getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"),
              context.get("run_id"), start, end, getattr(ti, "try_number", "?"),
              context.get("exception"))


def default_args() -> dict:
    return {
        "owner": OWNER,
        "retries": int(os.environ.get("LANHAI_TASK_RETRIES", "2")),
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": on_failure,
    }


def _day(value) -> date | None:
    """A business date as a plain `datetime.date` (Airflow hands out pendulum objects, which
    PySpark's DateType refuses: it checks the exact type)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return date.fromisoformat(str(value)[:10])


def interval_of(context) -> tuple[date | None, date | None]:
    """The business dates a run covers, inclusive.

    1. `interval_start` / `interval_end` params (a manual run over everything that arrived);
    2. an asset-triggered run: the union of the intervals its triggering events carry (Airflow
       3 gives such runs no data interval);
    3. a scheduled run or a backfill: its data interval in Asia/Shanghai (end exclusive).
    """
    params = context.get("params") or {}
    if params.get("interval_start") and params.get("interval_end"):
        return _day(params["interval_start"]), _day(params["interval_end"])
    events = context.get("triggering_asset_events") or {}
    starts, ends = [], []
    for evs in events.values():
        for ev in evs:
            extra = getattr(ev, "extra", None) or {}
            if extra.get("interval_start"):
                starts.append(_day(extra["interval_start"]))
                ends.append(_day(extra["interval_end"]))
    if starts:
        return min(starts), max(ends)
    lo, hi = context.get("data_interval_start"), context.get("data_interval_end")
    if lo is None or hi is None:
        return None, None
    end = _day(hi)
    if isinstance(hi, datetime) and hi.astimezone(SHANGHAI).time() == datetime.min.time():
        end -= timedelta(days=1)
    return _day(lo), max(end, _day(lo))


def interval_extra(start: date, end: date, **more) -> dict:
    return {"interval_start": start.isoformat(), "interval_end": end.isoformat(), **more}


def record_run(spark, config, context, task_id: str, status: str, rows: int | None,
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


# --- the DAGs (built by functions so that each DAG file is one call) -----------------------
INTERVAL_PARAMS_DOC = """
Run it by hand over a range (e.g. everything that has arrived) with the params
`interval_start` / `interval_end` (YYYY-MM-DD); a scheduled run or a backfill uses its data
interval (Asia/Shanghai days)."""


def _interval_params():
    from airflow.sdk import Param

    return {"interval_start": Param(None, type=["null", "string"], format="date",
                                    description="first business date (default: the data "
                                                "interval)"),
            "interval_end": Param(None, type=["null", "string"], format="date",
                                  description="last business date, inclusive")}


def ingest_dag(domain: str):
    """The daily ingest of one source domain: its new files landing -> bronze -> silver."""
    from airflow.sdk import Metadata, dag, task

    tables = domains()[domain]
    entities = [t for t in tables if t in contracts()]
    outlets = [silver_asset(t) for t in tables]

    @dag(
        dag_id=f"lanhai_ingest_{domain}",
        schedule="@daily",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["lanhai", "ingest", domain],
        params=_interval_params(),
        doc_md=f"""
### Ingest: the {domain} domain
New files of {', '.join(f'`{e}`' for e in entities)} under
`landing/{domain}/<entity>/dt=YYYY-MM-DD/` go to bronze (each file once, PII tokenised) and
silver (typed by the contract, deduplicated, bad rows quarantined). Each run writes its row
accounting to `audit.ingest_runs` and `audit.pipeline_runs`, and updates the assets
{', '.join(f'`silver.{t}`' for t in tables)} with the interval it covered, which schedules
the quality gate. Then the freshness check alerts when the domain's latest data is older than
its deadline (`quality.freshness_days`).
{INTERVAL_PARAMS_DOC}
""",
    )
    def ingest_domain():
        @task(pool=SPARK_POOL, outlets=outlets)
        def ingest(**context):
            from lanhai.config import load_config
            from lanhai.jobs.ingest import run_job
            from lanhai.spark import get_spark

            config = load_config()
            start, end = interval_of(context)
            out = run_job("ingest", config, entities)
            landed = {r["entity"]: r.get("landed", 0) for r in out["silver"]}
            quarantined = sum(r.get("quarantined", 0) for r in out["silver"])
            record_run(get_spark(config), config, context, "ingest", "success",
                       sum(landed.values()), {"silver": out["silver"]})
            log.info("ingest %s %s..%s: landed %s, quarantined %s", domain, start, end, landed,
                     quarantined)
            for t in tables:
                yield Metadata(silver_asset(t), interval_extra(start, end,
                                                               rows=landed.get(t, 0)))

        @task(trigger_rule="all_done")
        def freshness(**context):
            """No Spark and no slot of the pool: delta-rs reads bronze (lanhai/freshness.py)."""
            from lanhai.config import load_config
            from lanhai.freshness import late_entities

            _, end = interval_of(context)
            late = late_entities(load_config(), entities, end) if end else []
            if late:
                msg = "; ".join(f"{e}: latest landing {d or 'none'}" for e, d in late)
                from airflow.exceptions import AirflowFailException

                raise AirflowFailException(f"LANHAI LATE DATA {domain} (deadline per entity in "
                                           f"conf quality.freshness_*) before {end}: {msg}")

        ingest() >> freshness()

    return ingest_domain()


def quality_dag():
    """The Great Expectations gate on silver, scheduled when every silver table is updated."""
    from airflow.sdk import AssetAll, Metadata, dag, task

    tables = [t for ts in domains().values() for t in ts]

    @dag(
        dag_id="lanhai_quality",
        schedule=AssetAll(*[silver_asset(t) for t in tables]),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["lanhai", "quality"],
        params=_interval_params(),
        doc_md=f"""
### Quality gate: Great Expectations on silver
Runs when every silver table has been updated. Validates the rows of the interval the ingest
runs carried (their asset events) against suites built from `schemas/` and the business rules
(`lanhai.quality.gate`). Results go to `audit.quality_results`; Data Docs are rebuilt under
`data/quality/gx/uncommitted/data_docs/local_site/index.html`. A failed **critical** check fails
this run with the table, the rule and the row count, and the transform does not run for the
interval; warnings are recorded and shown, and do not stop it.
{INTERVAL_PARAMS_DOC}
""",
    )
    def lanhai_quality():
        @task(pool=SPARK_POOL, outlets=[validated_asset()])
        def validate(**context):
            from lanhai.config import load_config
            from lanhai.quality.gate import QualityGateFailed, run_gate
            from lanhai.spark import get_spark

            config = load_config()
            spark = get_spark(config)
            start, end = interval_of(context)
            try:
                result = run_gate(spark, config, start, end)
            except QualityGateFailed as err:
                record_run(spark, config, context, "validate", "failed", None,
                           {"error": str(err)})
                raise
            record_run(spark, config, context, "validate", "success", result.checks,
                       {"warnings": result.warnings, "docs": result.docs_index})
            yield Metadata(validated_asset(), interval_extra(
                start, end, checks=result.checks, warnings=len(result.warnings)))

        validate()

    return lanhai_quality()


def open_catalog(context) -> None:
    """pre_execute of every dbt task: open the project's Spark session (and take the catalog
    lock) before dbt-spark's `getOrCreate`, so dbt runs on it instead of a bare session."""
    from lanhai.config import load_config
    from lanhai.dbt import write_profiles
    from lanhai.spark import get_spark

    config = load_config()
    write_profiles(config)
    get_spark(config)


def dbt_paths():
    """The dbt project, the profiles file and the manifest `lanhai dbt-manifest` builds."""
    from lanhai.config import load_config
    from lanhai.dbt import DBT_DIR

    config = load_config()
    folder = config.path("dbt")
    return config, DBT_DIR, folder / "profiles.yml", folder / "target" / "manifest.json"


# The transform's layers when it runs one `dbt build` per layer (`airflow.dbt_tasks: layer`).
# Each layer is what the models of one folder need (`+`, their ancestors), less what earlier
# layers built: so a layer only reads what it or an earlier layer builds, whatever folder a
# model lives in (intermediate views that read `fct_orders` go with the core marts).
DBT_LAYER_TARGETS = (("staging", "path:seeds +path:models/staging"),
                     ("core", "+path:models/marts/core"),
                     ("kpi", "+path:models/marts/kpi"),
                     ("review", "path:seeds path:models"))


def dbt_layers() -> list[tuple[str, str, str | None]]:
    """(layer, dbt `--select`, dbt `--exclude`) for each `dbt build` of the layer mode."""
    layers, before = [], []
    for layer, select in DBT_LAYER_TARGETS:
        layers.append((layer, select, " ".join(before) or None))
        before.append(select)
    return layers


def transform_dag():
    """dbt as Airflow tasks (astronomer-cosmos), scheduled on the validated silver."""
    from airflow.sdk import Metadata, dag, task
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import (
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
        TestIndirectSelection,
    )

    config, project, profiles, manifest = dbt_paths()

    @dag(
        dag_id="lanhai_transform",
        schedule=[validated_asset()],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["lanhai", "dbt", "marts"],
        params=_interval_params(),
        doc_md=f"""
### Transform: the dbt marts
Runs when the quality gate has validated silver. Every dbt model is a task (astronomer-cosmos,
from the manifest `lanhai dbt-manifest` built at set-up, so parsing this file runs no dbt) that
runs `dbt build` on it: the model, then its tests; a failing test fails the task and stops
what depends on it. On the cluster profile (`airflow.dbt_tasks: layer`) each layer (seeds and
staging, then what the core, KPI and review marts need) is one `dbt build` task instead: one
Spark application each.
Facts and KPI marts are incremental: they take what silver loaded since their last build
(a backfill's days included) and recompute the weeks from the earliest new business date
(`dbt_project/README.md`). The interval the gate validated comes from its asset event and
goes on to the `marts.weekly_review` asset. Then `customer_value` fits BG/NBD and
Gamma-Gamma for the weeks whose customer histories dbt rebuilt (`lanhai customer-value`).
dbt tasks run in the `{SPARK_POOL}` pool.
{INTERVAL_PARAMS_DOC}
""",
    )
    def lanhai_transform():
        @task
        def interval(**context) -> dict:
            start, end = interval_of(context)
            log.info("transform for %s..%s", start, end)
            return {"start": str(start), "end": str(end)}

        profile_config = ProfileConfig(profile_name="lanhai", target_name=config.profile,
                                       profiles_yml_filepath=profiles)
        if config.airflow.get("dbt_tasks", "model") == "layer":
            # One `dbt build` per layer: on a cluster every dbt task is a Spark application of
            # its own, and a driver plus executors per model would cost more than the models.
            from cosmos.operators.local import DbtBuildLocalOperator

            dbt = []
            for layer, select, exclude in dbt_layers():
                dbt.append(DbtBuildLocalOperator(
                    task_id=f"dbt_build_{layer}", project_dir=str(project),
                    profile_config=profile_config, select=select, exclude=exclude,
                    indirect_selection=TestIndirectSelection.BUILDABLE.value,
                    invocation_mode=InvocationMode.DBT_RUNNER, install_deps=False,
                    pool=SPARK_POOL, pre_execute=open_catalog))
            for before, after in zip(dbt, dbt[1:], strict=False):
                before >> after
            first, last = dbt[0], dbt[-1]
        else:
            first = last = DbtTaskGroup(
                group_id="dbt",
                project_config=ProjectConfig(dbt_project_path=project, manifest_path=manifest,
                                             project_name="lanhai"),
                profile_config=profile_config,
                # buildable: a model's task runs the tests whose other parents are its
                # ancestors, so a relationships test runs with its child model, never before it
                # exists
                execution_config=ExecutionConfig(
                    execution_mode=ExecutionMode.LOCAL,
                    invocation_mode=InvocationMode.DBT_RUNNER,
                    test_indirect_selection=TestIndirectSelection.BUILDABLE),
                # one `dbt build` per model: the model, then its tests, in one task
                render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST,
                                           test_behavior=TestBehavior.BUILD),
                operator_args={"pool": SPARK_POOL, "pre_execute": open_catalog,
                               "install_deps": False},
            )

        @task(pool=SPARK_POOL)
        def customer_value(span: dict, **context) -> dict:
            """BG/NBD and Gamma-Gamma for the weeks dbt's customer histories changed."""
            from lanhai.config import load_config
            from lanhai.pipeline import customer_value as score

            return score(load_config(), log.info)

        @task(pool=SPARK_POOL, outlets=[marts_asset()])
        def publish(span: dict, **context):
            from lanhai.config import load_config
            from lanhai.spark import get_spark

            cfg = load_config()
            spark = get_spark(cfg)
            weeks = spark.sql(f"select count(distinct iso_week_label) from "
                              f"{cfg.db('marts')}.mart_weekly_review").first()[0]
            record_run(spark, cfg, context, "publish", "success", weeks, span)
            yield Metadata(marts_asset(), {"interval_start": span["start"],
                                           "interval_end": span["end"], "weeks": weeks})

        span = interval()
        scored = customer_value(span)
        span >> first
        last >> scored >> publish(span)

    return lanhai_transform()


def reports_asset():
    from airflow.sdk import Asset

    return Asset(name="reports.weekly_review", uri="lanhai://reports/weekly_review",
                 group="reports")


def review_week(context) -> str:
    """The ISO week a weekly-review run reports on: the `week` param, else the week that ended
    on the Sunday before the run (a Monday 09:00 run reports on last week)."""
    params = context.get("params") or {}
    if params.get("week"):
        return str(params["week"])
    when = context.get("logical_date") or context.get("data_interval_end") or datetime.now(
        SHANGHAI)
    sunday = when.astimezone(SHANGHAI).date() - timedelta(days=1)
    sunday -= timedelta(days=(sunday.weekday() + 1) % 7)
    year, week, _ = sunday.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_review_dag():
    """The weekly operating review: Mondays 09:00 Asia/Shanghai, once the marts hold the week."""
    from airflow.sdk import CronTriggerTimetable, Metadata, Param, PokeReturnValue, dag, task

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
        doc_md="""
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
""",
    )
    def lanhai_weekly_review():
        @task.sensor(inlets=[marts_asset()], poke_interval=900, timeout=6 * 3600,
                     mode="reschedule", soft_fail=True)
        def wait_for_marts(**context) -> PokeReturnValue:
            from lanhai.report.data import parse_week

            week = review_week(context)
            _, sunday = parse_week(week)
            events = context["inlet_events"][marts_asset()]
            latest = events[-1].extra if len(events) else {}
            reached = latest.get("interval_end")
            log.info("week %s ends %s; the marts were last built through %s", week, sunday,
                     reached)
            done = bool(reached) and date.fromisoformat(reached) >= sunday
            return PokeReturnValue(is_done=done, xcom_value=week)

        @task(pool=SPARK_POOL, outlets=[reports_asset()], trigger_rule="none_failed")
        def build_report(**context):
            from lanhai.config import load_config
            from lanhai.report import build_report as build
            from lanhai.report.data import parse_week
            from lanhai.spark import get_spark

            config = load_config()
            spark = get_spark(config)
            week = review_week(context)
            files = build(spark, config, week=week, progress=log.info)
            if files.status != "ok":
                log.warning("LANHAI REVIEW %s built as %s: the report says so instead of "
                            "showing numbers", week, files.status)
            details = {"week": week, "status": files.status, "folder": str(files.folder)}
            record_run(spark, config, context, "build_report", files.status, None, details,
                       interval=parse_week(week))
            yield Metadata(reports_asset(), details)

        wait_for_marts() >> build_report()

    return lanhai_weekly_review()


def maintenance_dag():
    """Weekly Delta maintenance: OPTIMIZE, then VACUUM with a safe retention; history kept."""
    from airflow.sdk import dag, task

    @dag(
        dag_id="lanhai_maintenance",
        schedule="0 3 * * 0",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["lanhai", "maintenance", "delta"],
        doc_md="""
### Maintenance: Delta OPTIMIZE and VACUUM
Sundays 03:00 (Asia/Shanghai). Compacts the small files that daily MERGEs and appends leave
(`OPTIMIZE`), then removes files no longer referenced and older than the retention
(`VACUUM ... RETAIN n HOURS`, `maintenance.vacuum_retain_hours`, at least 168: Delta's own
safety check stays on, so time travel and running readers keep a week). Table history
(`DESCRIBE HISTORY`) is kept; each table's result goes to `audit.pipeline_runs`.
""",
    )
    def lanhai_maintenance():
        @task(pool=SPARK_POOL)
        def optimize_and_vacuum(**context):
            from lanhai.config import load_config
            from lanhai.spark import get_spark

            config = load_config()
            spark = get_spark(config)
            hours = max(168, int((config.raw.get("maintenance") or {}).get(
                "vacuum_retain_hours", 168)))
            done = []
            for layer in ("bronze", "silver", "quarantine", "audit", "marts"):
                db = config.db(layer)
                if not spark.catalog.databaseExists(db):
                    continue
                for t in spark.catalog.listTables(db):
                    name = f"{db}.{t.name}"
                    if t.isTemporary or t.tableType == "VIEW" or spark.sql(
                            f"describe detail {name}").first()["format"] != "delta":
                        continue
                    spark.sql(f"optimize {name}")
                    spark.sql(f"vacuum {name} retain {hours} hours")
                    done.append(name)
            record_run(spark, config, context, "optimize_and_vacuum", "success", len(done),
                       {"tables": done, "retain_hours": hours})
            return done

        optimize_and_vacuum()

    return lanhai_maintenance()


def erasure_dag():
    """PIPL erasure on request: triggered by hand with the user ids (lanhai.erasure)."""
    from airflow.sdk import Param, dag, task

    @dag(
        dag_id="lanhai_erasure",
        schedule=None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),  # a retry finishes what a failed try began
        params={"user_ids": Param([], type="array", items={"type": "string"}, minItems=1,
                                  description="the account ids to erase")},
        render_template_as_native_obj=True,
        tags=["lanhai", "pipl"],
        doc_md="""
### PIPL erasure
Trigger with `{"user_ids": ["U00000289"]}` (the UI's form asks for them). Removes each person
from the landing zone, every table and Delta version, the marts (rebuilt) and the files the
lakehouse wrote; their orders stay under a random surrogate. The run's log shows counts only,
`audit.erasures` records the request without the ids. Run it when no ingest or dbt run writes:
its zero-retention VACUUM breaks a reader that is on an older version. A failed run is finished
by triggering it again with the same ids. See docs/ingest.md, "Erasing a person".
""",
    )
    def lanhai_erasure():
        @task(pool=SPARK_POOL)
        def erase(params=None, **context):
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

    return lanhai_erasure()
