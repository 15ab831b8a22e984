"""
### Transform: the dbt marts
Runs when the quality gate has validated silver. The dbt project runs as one `dbt build` per
layer (`lanhai.dbt.dbt_layers`): seeds and staging, then what the core marts need, then the
KPI marts, then the review marts, each layer less what an earlier one built; each model runs
and then its data tests, and a failing test fails the layer's task and stops the layers after
it (the task's log names the model). With `airflow.dbt_tasks: model` (or
`LANHAI_DBT_TASKS=model`) every dbt model is a task of its own instead (astronomer-cosmos'
`DbtTaskGroup`, rendered from the manifest `lanhai dbt-manifest` built at set-up, so parsing
this file runs no dbt), for per-model retries in the UI at ~1 s of start-up per model (the
small lake's no-op transform: 246 s by model, 159 s by layer). dbt's unit tests (the models'
SQL on fixed inputs) are left out: they change with the code, not the data, and the test
suite runs them.

Facts and KPI marts are incremental: they take what silver loaded since their last build
(a backfill's days included) and recompute the weeks from the earliest new business date
(`dbt_project/README.md`). The interval the gate validated comes from its asset event and
goes on to the `marts.weekly_review` asset; `record_build` first notes when the build started
(the data-quality mart's freshness: arrival in the landing zone to the first build), and
`publish` notes that it passed: the next run's data tests on the order views read the rows
loaded since (`dbt_project/macros/test_scope.sql`; every row on a full refresh). Then
`customer_value` fits BG/NBD and
Gamma-Gamma for the weeks whose customer histories dbt rebuilt (`lanhai customer-value`), and
`ab_readout` turns each experiment's counts into its readout (`lanhai ab-readout`).
dbt tasks run in the `spark` pool.
"""

from __future__ import annotations

from airflow.sdk import Metadata, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
    TestIndirectSelection,
)

from lanhai import intervals
from lanhai.assets import MARTS, VALIDATED_SILVER
from lanhai.config import load_config
from lanhai.dag_defaults import SPARK_POOL, START, default_args, log
from lanhai.dbt import DBT_DIR, PRODUCTION_FLAGS, dbt_layers, dbt_tasks, open_catalog
from lanhai.intervals import interval_of

CONFIG = load_config()
PROFILE = ProfileConfig(profile_name="lanhai", target_name=CONFIG.profile,
                        profiles_yml_filepath=CONFIG.path("dbt") / "profiles.yml")
MANIFEST = CONFIG.path("dbt") / "target" / "manifest.json"
DBT_TASKS = dbt_tasks(CONFIG)


def dbt_by_layer():
    """One `dbt build` per layer: a task's start-up (Airflow's, dbt's parse and catalog
    listing; on a cluster a Spark application with its executors) is paid per layer, not per
    model."""
    from cosmos.operators.local import DbtBuildLocalOperator

    tasks = [DbtBuildLocalOperator(
        task_id=f"dbt_build_{layer}", project_dir=str(DBT_DIR), profile_config=PROFILE,
        select=select, exclude=exclude,
        indirect_selection=TestIndirectSelection.BUILDABLE.value,
        invocation_mode=InvocationMode.DBT_RUNNER, install_deps=False, pool=SPARK_POOL,
        dbt_cmd_flags=PRODUCTION_FLAGS, pre_execute=open_catalog)
        for layer, select, exclude in dbt_layers()]
    for before, after in zip(tasks, tasks[1:], strict=False):
        before >> after
    return tasks[0], tasks[-1]


def dbt_by_model():
    """One `dbt build` per model (the model, then its tests, in one task)."""
    group = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=DBT_DIR, manifest_path=MANIFEST,
                                     project_name="lanhai"),
        profile_config=PROFILE,
        # buildable: a model's task runs the tests whose other parents are its ancestors, so
        # a relationships test runs with its child model, never before it exists
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.DBT_RUNNER,
                                         test_indirect_selection=TestIndirectSelection.BUILDABLE),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST,
                                   test_behavior=TestBehavior.BUILD),
        operator_args={"pool": SPARK_POOL, "pre_execute": open_catalog, "install_deps": False,
                       "dbt_cmd_flags": PRODUCTION_FLAGS},
    )
    return group, group


@dag(
    dag_id="lanhai_transform",
    schedule=[VALIDATED_SILVER],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lanhai", "dbt", "marts"],
    params=intervals.params(),
    doc_md=__doc__ + intervals.PARAMS_DOC,
)
def lanhai_transform():
    @task
    def interval(**context) -> dict:
        start, end = interval_of(context)
        log.info("transform for %s..%s", start, end)
        return {"start": str(start), "end": str(end)}

    @task(pool=SPARK_POOL)
    def record_build(span: dict) -> str:
        """The build's start, for end-to-end freshness: a file is in the marts from the first
        build that starts after bronze took it (lanhai.landed)."""
        from lanhai.landed import record_build as record
        from lanhai.spark import get_spark

        config = load_config()
        return record(get_spark(config), config)

    @task(pool=SPARK_POOL)
    def customer_value(span: dict) -> dict:
        """BG/NBD and Gamma-Gamma for the weeks dbt's customer histories changed."""
        from lanhai.pipeline import customer_value as score

        return score(load_config(), log.info)

    @task(pool=SPARK_POOL)
    def ab_readout(span: dict) -> dict:
        """Each experiment's A/B readout (scipy) from dbt's per-variant counts."""
        from lanhai.pipeline import ab_readout as read_out

        return read_out(load_config(), log.info)

    @task(pool=SPARK_POOL, outlets=[MARTS])
    def publish(span: dict, build_id: str, **context):
        """The marts' asset event; the build noted as passed (the next run's data tests read
        what was loaded since it started: dbt_project/macros/test_scope.sql)."""
        from lanhai.audit import record_run
        from lanhai.landed import record_build_passed
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        record_build_passed(spark, config, build_id)
        weeks = spark.sql(f"select count(distinct iso_week_label) from "
                          f"{config.db('marts')}.mart_weekly_review").first()[0]
        record_run(spark, config, context, "publish", "success", weeks, span)
        yield Metadata(MARTS, {"interval_start": span["start"], "interval_end": span["end"],
                               "weeks": weeks})

    span = interval()
    first, last = dbt_by_layer() if DBT_TASKS == "layer" else dbt_by_model()
    build_id = record_build(span)
    span >> build_id >> first
    last >> customer_value(span) >> ab_readout(span) >> publish(span, build_id)


lanhai_transform()
