"""A run killed between a Delta table's first commit and the catalog's entry for it (issue 16).

The state such a SIGKILL leaves is made exactly: ingest a small landing zone, then make the
catalog forget every table while their folders stay, and un-commit the streaming checkpoints'
batches (the killed process had not recorded them). The next ingest must adopt the folders and
replay the batches to the same tables: no DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION, no row
written twice, the row accounting unchanged."""

from __future__ import annotations

import shutil

import pytest
from reliability_lake import LAYERS, scratch_lake

pytestmark = pytest.mark.integration

HEADER = "rate_date,currency,cny_per_unit,published_at\n"


def _tables(spark, own) -> dict[str, list]:
    out = {}
    for layer in LAYERS:
        for t in spark.catalog.listTables(own.db(layer)):
            if not t.isTemporary:
                df = spark.table(f"{own.db(layer)}.{t.name}")
                keep = [c for c in df.columns if c not in (
                    "_ingested_at", "_silver_loaded_at", "_run_id", "run_id", "started_at",
                    "finished_at", "quarantined_at")]
                out[f"{layer}.{t.name}"] = sorted(map(tuple, df.select(*keep).collect()), key=str)
    return out


@pytest.fixture(scope="module")
def crashed(spark, config, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-window")
    with scratch_lake(spark, config, root, "crash") as own:
        yield _crash_and_rerun(spark, own, root)


def _crash_and_rerun(spark, own, root) -> dict:
    from lanhai.jobs.ingest import run_job

    day = own.landing / "fx" / "fx_rates" / "dt=2024-01-02"
    day.mkdir(parents=True)
    (day / "part-00000.csv").write_text(
        HEADER + "2024-01-02,USD,7.05,2024-01-02T09:15:00+08:00\n"
        "2024-01-02,EUR,7.66,2024-01-02T09:15:00+08:00\n"
        "2024-01-02,XXX,1.00,2024-01-02T09:15:00+08:00\n")  # one quarantined row
    first = run_job("ingest", own, ["fx_rates"])
    before = _tables(spark, own)
    kept = root / "kept"
    for name in before:  # the catalog forgets each table; its folder stays
        layer, table = name.split(".")
        folder = own.lake / f"{own.db(layer)}.db" / table
        shutil.copytree(folder, kept / name)
        spark.sql(f"drop table {own.db(layer)}.{table}")
        shutil.copytree(kept / name, folder)
    for commits in (own.path("checkpoints")).glob("*/*/commits"):
        shutil.rmtree(commits)  # no batch recorded as done: each one runs again
    again = run_job("ingest", own, ["fx_rates"])
    return {"config": own, "first": first, "again": again, "before": before,
            "after": _tables(spark, own)}


def test_the_next_run_adopts_every_orphaned_table(crashed):
    assert set(crashed["after"]) == set(crashed["before"])
    assert len(crashed["before"]) >= 5  # bronze, silver, history, quarantine, audit tables


def test_every_table_equals_the_run_that_was_not_interrupted(crashed):
    for name, rows in crashed["before"].items():
        assert crashed["after"][name] == rows, name


def test_the_replayed_batches_wrote_nothing_twice(crashed):
    bronze = crashed["after"]["bronze.fx_rates"]
    assert len(bronze) == 3
    [silver] = crashed["again"]["silver"]
    [first] = crashed["first"]["silver"]
    assert first["inserted"] == 2 and first["quarantined"] == 1
    assert silver["inserted"] == 0  # the replayed MERGE finds its rows already there
