"""Runs stopped at each commit point resume to the tables of a run that never stopped (issue 16).

First: a run killed between a Delta table's first commit and the catalog's entry for it.

The state such a SIGKILL leaves is made exactly: ingest a small landing zone, then make the
catalog forget every table while their folders stay, and un-commit the streaming checkpoints'
batches (the killed process had not recorded them). The next ingest must adopt the folders and
replay the batches to the same tables: no DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION, no row
written twice, the row accounting unchanged.

Then a trial per commit point of an ingest (lanhai.crashpoints): a day of category files
lands in two lakes; one ingests it, the other is stopped right after each commit point in
turn and resumes. In the end the two lakes' tables are equal, row accounting and history
included (a replayed micro-batch is not counted as its own duplicates)."""

from __future__ import annotations

import shutil

import pytest
from reliability_lake import scratch_lake, table_rows

from lanhai.crashpoints import on_reached

pytestmark = pytest.mark.integration

HEADER = "rate_date,currency,cny_per_unit,published_at\n"


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
    before = table_rows(spark, own)
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
            "after": table_rows(spark, own)}


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
    # the adopted table holds the replayed batch's commit: its rows are counted from that
    # commit's own metrics (as the accounting of a run that never stopped), not written again
    assert silver["inserted"] == 2 and silver["updated"] == 0


# --- a trial per commit point -------------------------------------------------------------
CATEGORY_HEADER = "category_l2,category_l1,name_zh,name_en,is_smart_device,updated_at\n"
TRIALS = ("bronze.appended", "silver.quarantined", "silver.inserted", "silver.merged",
          "silver.history", "silver.audited")


def _category_day(k: int) -> str:
    """Day k: two new categories, a rename of day k-1's first, a copy of a row already sent,
    and a row without its level-1 category (quarantined)."""
    at = f"2024-02-{k + 1:02d}T08:00:00+08:00"
    rows = [f"c{k}a,L1,类{k}a,cat {k}a,false,{at}", f"c{k}b,L1,类{k}b,cat {k}b,true,{at}",
            f"c{k}x,,类{k}x,cat {k}x,false,{at}"]
    if k > 0:
        rows.append(f"c{k - 1}a,L1,新类{k - 1}a,renamed {k - 1}a,false,{at}")
        rows.append(f"c{k - 1}b,L1,类{k - 1}b,cat {k - 1}b,true,"
                    f"2024-02-{k:02d}T08:00:00+08:00")  # sent again, unchanged
    return CATEGORY_HEADER + "\n".join(rows) + "\n"


class Crash(Exception):
    pass


@pytest.fixture(scope="module")
def trials(spark, config, tmp_path_factory):
    """Two days land in two lakes. The reference lake ingests each day once. The other one
    ingests day 0, then is stopped at each commit point of day 1's micro-batch in turn (each
    run resumes the batch the one before it left and stops at the next point), then runs to
    the end."""
    from lanhai.jobs.ingest import run_job

    root = tmp_path_factory.mktemp("crash-trials")
    with scratch_lake(spark, config, root / "ref", "ref") as ref, \
            scratch_lake(spark, config, root / "hit", "hit") as hit:
        for k in (0, 1):
            for own in (ref, hit):
                day = own.landing / "product" / "categories" / f"dt=2024-02-{k + 1:02d}"
                day.mkdir(parents=True)
                (day / "part-00000.csv").write_text(_category_day(k), encoding="utf-8")
            run_job("ingest", ref, ["categories"])
            if k == 0:
                run_job("ingest", hit, ["categories"])
        stopped = []
        for point in TRIALS:
            def crash(at, entity, point=point):
                if at == point:
                    raise Crash(f"stopped after {at} of {entity}")

            remove = on_reached(crash)
            try:
                run_job("ingest", hit, ["categories"])
            except Exception as e:  # noqa: BLE001  (Spark wraps the error of foreachBatch)
                stopped.append((point, "stopped after" in str(e)))
            finally:
                remove()
        last = run_job("ingest", hit, ["categories"])
        yield {"ref": table_rows(spark, ref), "hit": table_rows(spark, hit), "stopped": stopped,
               "last": last}


def test_every_trial_stopped_the_run_at_its_commit_point(trials):
    assert trials["stopped"] == [(p, True) for p in TRIALS]


def test_after_every_stop_the_next_run_ends_in_the_same_tables(trials):
    assert set(trials["hit"]) == set(trials["ref"])
    for name, rows in trials["ref"].items():
        assert trials["hit"][name] == rows, name


def test_a_replayed_merge_counts_its_rows_once(trials):
    """The accounting of the batch stopped after its MERGE: its inserts and its update are
    Delta's metrics of the crashed run's commit, not duplicates of themselves."""
    ref = [r for r in trials["ref"]["audit.ingest_runs"] if r[0] == "silver"]
    assert ref == [r for r in trials["hit"]["audit.ingest_runs"] if r[0] == "silver"]
    [row] = [r for r in ref if r[2] == 1]  # day 1's micro-batch
    # files, landed, inserted, updated, superseded, duplicates, quarantined
    assert row[3:10] == (1, 5, 2, 1, 0, 1, 1)


def test_a_bronze_checkpoint_reset_without_its_table_is_refused(spark, config, tmp_path_factory):
    """A bronze table with rows and a checkpoint with no batch: every landed file would be
    appended again. The ingest stops before reading anything, naming the table; the table
    keeps its rows."""
    from lanhai.jobs.ingest import run_job

    root = tmp_path_factory.mktemp("reset-checkpoint")
    with scratch_lake(spark, config, root, "reset") as own:
        day = own.landing / "fx" / "fx_rates" / "dt=2024-01-02"
        day.mkdir(parents=True)
        (day / "part-00000.csv").write_text(
            HEADER + "2024-01-02,USD,7.05,2024-01-02T09:15:00+08:00\n", encoding="utf-8")
        run_job("bronze", own, ["fx_rates"])
        shutil.rmtree(own.path("checkpoints") / "bronze" / "fx_rates")
        with pytest.raises(RuntimeError, match=rf"new checkpoint: {own.db('bronze')}\.fx_rates"):
            run_job("bronze", own, ["fx_rates"])
        assert spark.table(f"{own.db('bronze')}.fx_rates").count() == 1
