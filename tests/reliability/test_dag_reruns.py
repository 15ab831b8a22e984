"""Reruns (issue 16): the chain's DAGs run again, twice, over the interval they already ran
for, leave every table as it was.

The small lake's chain ran each DAG once over its interval (tests/conftest.py); its ingest ran
twice more as a job (`test_a_second_and_a_third_run_change_nothing`) and dbt twice more (the
`built` fixture: a stopped and a finished incremental run, then a full refresh). Here the
transaction domain's ingest DAG, the quality gate and the weekly review run a second and a
third time through Airflow for the same interval and week, and so does the transform: the
second time a `dbt build` per layer (the default, as the chain ran it), the third time a Cosmos
task per dbt model (`LANHAI_DBT_TASKS=model`: the model and its tests), so both modes run end
to end and must leave the same tables; then the customer-value fits. After each rerun every
table of every layer holds the same rows (an order-independent hash of every column; views are
queries over them), but the run logs, which gain a row per run by design. About 8 minutes on
2 cores, most of it the transform's two no-op runs (on the small lake, warm: ~160 s by layer,
~250 s by model: every model's plan and Delta commit, 165 data tests).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

# The largest domain's ingest (the ingest job itself ran three times in tests/conftest.py), the
# gate, the transform and the review.
RERUN = ("lanhai_ingest_transaction", "lanhai_quality", "lanhai_transform",
         "lanhai_weekly_review")
MODES = ("layer", "model")  # the transform's two modes (lanhai.dbt.dbt_tasks)
RUN_LOGS = {"ingest_runs", "quality_results", "pipeline_runs", "published_kpis", "erasures",
            "mart_builds", "landed_files"}


def _content(spark, config) -> dict[str, tuple[int, int]]:
    """(rows, hash) of every table; four tables at once (each a small Spark job whose time is
    mostly the driver's planning: one at a time took ~25 s for the ~60 tables)."""
    from concurrent.futures import ThreadPoolExecutor

    from pyspark.sql import functions as F

    names = []
    for layer in config.raw["databases"]:
        db = config.db(layer)
        for t in spark.catalog.listTables(db):
            # a view is a query over tables compared here: hashing it again would only rerun it
            if not (t.isTemporary or t.tableType == "VIEW" or t.name in RUN_LOGS
                    or "__dbt_tmp" in t.name):
                names.append(f"{db}.{t.name}")

    def content(name: str) -> tuple[int, int]:
        df = spark.table(name)
        row = df.select(F.count(F.lit(1)).alias("n"),
                        F.sum(F.xxhash64(*[F.col(f"`{c}`") for c in df.columns])
                              .cast("decimal(38,0)")).alias("h")).first()
        return row["n"], int(row["h"] or 0)

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(names, pool.map(content, names), strict=True))


@pytest.fixture(scope="module")
def reruns(built, spark, config):
    from datetime import date

    from lanhai.airflow_env import chain, run_chain

    chain_run = built["chain"]
    start, end = date.fromisoformat(chain_run["start"]), date.fromisoformat(chain_run["end"])
    # `built` left the lake as a transform leaves it: dbt's models, then the customer-value fits
    dags = set(RERUN) & set(chain())
    before = _content(spark, config)
    runs, after = [], []
    for mode in MODES:
        with pytest.MonkeyPatch.context() as env:  # read as the DAG file is parsed, each run
            env.setenv("LANHAI_DBT_TASKS", mode)
            runs.append(run_chain(config, start, end, home=config.data_dir / "airflow-chain",
                                  only=dags))
        after.append(_content(spark, config))
    return {"before": before, "after": after, "runs": runs, "dags": dags}


def test_each_rerun_succeeded(reruns):
    for results in reruns["runs"]:
        assert set(results) == reruns["dags"]
        assert {state for state, _s, _t in results.values()} == {"success"}


def test_the_transform_ran_once_per_layer_then_once_per_model(reruns):
    by_layer, by_model = (set(r["lanhai_transform"][2]) for r in reruns["runs"])
    assert {t for t in by_layer if t.startswith("dbt_build_")} == {
        "dbt_build_staging", "dbt_build_core", "dbt_build_kpi", "dbt_build_review"}
    assert not [t for t in by_layer if t.endswith("_model_build")]
    assert len([t for t in by_model if t.endswith("_model_build")]) > 50
    assert not [t for t in by_model if t.startswith("dbt_build_")]


def test_a_second_and_a_third_dag_run_leave_every_table_as_it_was(reruns):
    before = reruns["before"]
    assert len(before) > 50
    for after in reruns["after"]:
        assert set(after) == set(before)
        assert {t: (before[t], after[t]) for t in before if after[t] != before[t]} == {}
