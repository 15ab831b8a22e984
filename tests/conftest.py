"""Shared fixtures: one SparkSession for the whole run, and the small lake built once.

A test that uses a lake fixture is an integration test, whatever its marks, so the fast tier
(`make unit`, run first by `make test`) never builds a lake."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


LAKE_FIXTURES = {"small_lake", "built", "chain"}
RUN_LAST = {"test_erasure.py"}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects: a test that needs the lake is integration
def pytest_collection_modifyitems(config, items):
    for item in items:
        if LAKE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    # The erasure changes the session's lake (a person less, their orders under a surrogate):
    # it runs after every other test that reads that lake.
    last = [i for i in items if i.path.name in RUN_LAST]
    items[:] = [i for i in items if i.path.name not in RUN_LAST] + last


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Point the test profile at a fresh folder before anything reads the config.

    LANHAI_TEST_DATA_DIR (for development only) keeps the folder between runs, and the small
    lake built in it is reused instead of rebuilt.
    """
    keep = os.environ.get("LANHAI_TEST_DATA_DIR")
    path = Path(keep) if keep else tmp_path_factory.mktemp("lanhai-data")
    os.environ["LANHAI_DATA_DIR"] = str(path)
    os.environ["LANHAI_PROFILE"] = "test"
    return path


@pytest.fixture(scope="session")
def config(data_dir):
    from lanhai.config import load_config

    return load_config("test")


@pytest.fixture(scope="session")
def spark(config):
    """The one SparkSession of the test run: local[2], UI off, few partitions, Delta on."""
    from lanhai.spark import get_spark

    session = get_spark(config)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_lake(config, spark):
    """Simulate `small` and hold back the late shipments files and the last day. Run the chain
    through Airflow over the days that arrived (each domain's ingest DAG, the quality gate, the
    dbt transform as a `dbt build` per layer, the weekly review: `dag.test()` in this process):
    that run is both what tests/test_airflow_chain.py checks and the lake's first build, so the
    suite ingests and builds the marts once instead of once directly and once through Airflow.
    Then ingest again with nothing new, twice, land the held-back files and ingest once more.

    Returns the manifest, the chain's runs, the three direct ingests (`rerun`, `third_run`,
    `late_run`), a snapshot after the chain and after each ingest, and the held-back files; the
    marts are then one day behind (`built` builds them incrementally and compares with a full
    refresh)."""
    from datetime import date, timedelta

    from lanhai.airflow_env import run_chain
    from lanhai.jobs.ingest import run_job
    from lanhai.simulator import simulate

    saved = config.data_dir / "small_lake.json"
    if os.environ.get("LANHAI_TEST_DATA_DIR") and saved.exists():
        return json.loads(saved.read_text())
    sim = config.raw["simulator"]
    start = date.fromisoformat(sim["start"])
    result = simulate(config.landing, config.path("simulator"), start=start, days=sim["days"],
                      scale="small", seed=sim["seed"], defects=sim["defects"])
    manifest = result.manifest
    last_day = start + timedelta(days=sim["days"] - 1)
    # The late shipments files only: a day without its orders file fails the quality gate's
    # volume check (as it should: tests/test_quality_gate.py), and the chain runs the gate.
    held_files = [f["file"] for f in manifest["late_files"] if f["entity"] != "orders"]
    held_files += [p.relative_to(config.landing).as_posix()
                   for p in sorted(config.landing.glob(f"*/*/dt={last_day}/*"))]
    held = config.data_dir / "held_back"
    for rel in held_files:
        dest = held / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(config.landing / rel, dest)
    began = spark.sql("select current_timestamp()").first()[0]
    home = config.data_dir / "airflow-chain"
    end = last_day - timedelta(days=1)
    results = run_chain(config, start, end, home=home)
    chain = {"results": results, "start": start, "end": end, "began": began, "home": home}
    snaps = [_snapshot(spark, config)]
    rerun = run_job("ingest", config)
    snaps.append(_snapshot(spark, config))
    third_run = run_job("ingest", config)  # the same interval a third time
    third_snapshot = _snapshot(spark, config)
    for rel in held_files:
        shutil.move(held / rel, config.landing / rel)
    late_run = run_job("ingest", config)
    snaps.append(_snapshot(spark, config))
    lake = {"manifest": manifest, "chain": chain, "rerun": rerun, "late_run": late_run,
            "third_run": third_run, "third_snapshot": third_snapshot,
            "snapshots": snaps, "held_back": held_files, "last_day": last_day}
    saved.write_text(json.dumps(lake, default=str))
    return json.loads(saved.read_text())


def _snapshot(spark, config) -> dict[str, dict]:
    """Rows, Delta version and data files of every table of the lake, read from the tables'
    logs with delta-rs (rows from each file's `numRecords` statistic, less its deletion
    vector's): under a second, where a count, DESCRIBE DETAIL and DESCRIBE HISTORY of each
    table through Spark took 40-120 s, four times per build of the lake. `spark` is unused:
    kept so that the callers read as before."""
    import pyarrow as pa
    from deltalake import DeltaTable

    out = {}
    for layer in config.raw["databases"]:
        db = config.db(layer)
        for log in sorted((config.lake / f"{db}.db").glob("*/_delta_log")):
            table = DeltaTable(str(log.parent))
            adds = pa.table(table.get_add_actions(flatten=True)).to_pydict()
            counts = adds["num_records"]
            assert None not in counts, f"{db}.{log.parent.name}: a file without statistics"
            deleted = adds.get("deletionVector.cardinality") or [0] * len(counts)
            out[f"{db}.{log.parent.name}"] = {
                "rows": sum(counts) - sum(d or 0 for d in deleted),
                "version": table.version(), "files": len(counts)}
    assert out, f"no Delta table under {config.lake}"
    return out


INCREMENTAL_PREFIXES = ("fct_", "kpi_", "mart_weekly_review", "mart_customer_history_weekly")
STOPPED_AFTER = ("fct_orders", "fct_order_items")  # the incremental run is stopped after these


def incremental_tables(spark) -> list[str]:
    return sorted(t.name for t in spark.catalog.listTables("marts")
                  if t.name.startswith(INCREMENTAL_PREFIXES) and not t.isTemporary
                  and t.tableType != "VIEW" and "__dbt_tmp" not in t.name)


@pytest.fixture(scope="session")
def built(small_lake, spark, config, tmp_path_factory):
    """The marts were built one day (and the late shipments files) behind (small_lake). Build
    them incrementally with `dbt run`, stopped after the order facts and run again (a crash
    point of dbt, issue 16) (the tests ran on the chain's build, a `dbt build` per
    model, and the incremental models are compared here cell by cell with a full refresh),
    keep a copy of the incremental models, then rebuild those with --full-refresh: the tests
    compare the two, and check what the incremental run processed. Then the customer-value
    fits of the rebuilt histories and the A/B readout, as the transform's last tasks. The
    marts' tables (dims, review tables) are rebuilt whole by every run, so the full refresh
    leaves them out;
    int_kpi_values_weekly too, which only reshapes the KPI tables compared cell by cell.

    First, the reviews of the weeks the late files belong to (and the week before each) are
    published as they stand without them: the review built after them lists what they
    restated (tests/test_report.py)."""
    from dataclasses import replace
    from datetime import date, timedelta

    from lanhai.dbt import run_dbt
    from lanhai.jobs.ab_readout import run as read_out_experiments
    from lanhai.jobs.customer_value import run as score_customers
    from lanhai.landed import record_build
    from lanhai.report import build_report

    reports = replace(config, paths={**config.paths,
                                     "reports": tmp_path_factory.mktemp("reviews-before")})
    published = {}
    for f in small_lake["manifest"]["late_files"]:
        if f["file"] not in small_lake["held_back"]:
            continue
        day = date.fromisoformat(f["file"].split("dt=")[1][:10])
        for d in (day - timedelta(days=7), day):
            week = "{}-W{:02d}".format(*d.isocalendar()[:2])
            if week not in published:
                files = build_report(spark, reports, week=week, langs=("en",), pdf=False)
                snap = json.loads(files.snapshot.read_text(encoding="utf-8"))
                published[week] = snap["tables"][f"{config.db('marts')}.mart_weekly_review"]

    before = {t: spark.sql(f"describe history marts.{t} limit 1").first()["version"]
              for t in incremental_tables(spark)}
    watermarks = spark.sql("select max(dbt_built_at) as at from marts.kpi_gmv_weekly").first()
    # A run stopped after the two order facts: the state a kill between two models leaves
    # (each model is one Delta commit, so a kill inside one leaves its previous version). The
    # next run must finish the job: what it builds is compared with a full refresh below.
    record_build(spark, config)  # as the transform does first (the freshness measure)
    assert run_dbt(config, ["run", "--select", *STOPPED_AFTER]), "the stopped run failed"
    assert run_dbt(config, ["run"]), "incremental dbt run failed: see data/dbt/logs"
    history = {t: spark.sql(f"describe history marts.{t}").where(
        f"version > {before[t]}").collect() for t in incremental_tables(spark)}
    spark.sql("create database if not exists incremental_copy")
    for t in incremental_tables(spark):
        spark.sql(f"create or replace table incremental_copy.{t} using delta as "
                  f"select * from marts.{t}")
    assert run_dbt(config, ["run", "--full-refresh", "--select",
                            "marts,config.materialized:incremental"]), "full refresh failed"
    # The customer-value fits of the weeks whose histories the full refresh rebuilt (every
    # kept week), as the transform's task after dbt: the lake is then what a transform leaves.
    customer_value = score_customers(spark, config)
    ab_readout = read_out_experiments(spark, config)
    return {**small_lake, "history": history, "previous_build": watermarks["at"],
            "published_before_late_files": published, "customer_value": customer_value,
            "ab_readout": ab_readout}
