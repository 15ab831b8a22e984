"""SIGKILL at random moments (issue 16): an ingest killed mid-run, again and again, then run to
the end, leaves the tables of an ingest that was never killed.

The first two days of the `tiny` simulation (with its defects: bad rows, duplicates, drift) of
fx rates, users and orders land twice. One copy is ingested in this process, in a scratch lake
of the session's catalog: the reference. The other is a data folder with a catalog of its own,
where `lanhai ingest` runs as a process and is killed (SIGKILL to its process group: the Python
driver and its JVM, the way an out-of-memory kill stops them) at a random moment of each of
two runs, then runs to the end. Both lakes' tables are read from their folders and compared:
content, row accounting, history and quarantine. Ten trials in all with the orphaned tables and
the five stops at commit points of test_crash_windows.py, the stopped key rotation
(test_key_rotation.py) and the dbt run stopped after the order facts (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from reliability_lake import LAYERS, LOAD_TIMES, scratch_lake

pytestmark = pytest.mark.integration

KILLS = 2
SEED = 20261203
ENTITIES = ("fx_rates", "users", "orders")  # with orders: order_items, late references
JVM_START_S = 15  # a `lanhai ingest` process's start before its first Spark job (about)
SKIP = {*LOAD_TIMES, "flagged_at", "_batch_id", "bronze_batch_id", "batch_id"}


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "LANHAI_PROFILE": "test", "LANHAI_DATA_DIR": str(data_dir),
            "SPARK_LOCAL_IP": "127.0.0.1"}


def _ingest(data_dir: Path, kill_after: float | None = None) -> int:
    args = [a for e in ENTITIES for a in ("--entity", e)]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "lanhai"), "ingest", *args],
                            env=_env(data_dir), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -signal.SIGKILL


def _dump(spark, lake: Path, dbs: dict[str, str]) -> dict[str, list[str]]:
    """Every table of a lake read from its folder (no catalog: each lake has its own)."""
    from pyspark.sql import functions as F

    out = {}
    for layer, db in dbs.items():
        for folder in sorted((lake / f"{db}.db").glob("*/_delta_log")):
            df = spark.read.format("delta").load(str(folder.parent))
            name = folder.parent.name
            if name == "ingest_runs":  # a row per micro-batch: batches may differ, sums not
                df = df.groupBy("layer", "entity").agg(*[F.sum(c).alias(c) for c in (
                    "landed", "inserted", "updated", "superseded", "duplicates",
                    "quarantined")])
            keep = [c for c in df.columns if c not in SKIP]
            out[f"{layer}.{name}"] = sorted(json.dumps(r.asDict(), default=str, sort_keys=True)
                                            for r in df.select(*keep).collect())
    return out


@pytest.fixture(scope="module")
def trials(spark, config, tmp_path_factory):
    from lanhai.jobs.ingest import run_job
    from lanhai.simulator import simulate

    root = tmp_path_factory.mktemp("random-kills")
    ref, hit = root / "ref", root / "hit"
    simulate(ref / "landing", ref / "simulator", start=date(2025, 6, 1), days=28, scale="tiny",
             seed=7, defects=config.raw["simulator"]["defects"])
    for day in (ref / "landing").glob("*/*/dt=*"):  # its first two days are enough
        if day.name[3:] > "2025-06-02":
            shutil.rmtree(day)
    shutil.copytree(ref / "landing", hit / "landing")
    with scratch_lake(spark, config, ref, "rkill") as own:  # the reference, in this process
        began = time.monotonic()
        run_job("ingest", own, list(ENTITIES))
        whole = time.monotonic() - began + JVM_START_S
        expected = _dump(spark, own.lake, {layer: own.db(layer) for layer in LAYERS})
    rng = random.Random(SEED)
    kills = []
    for _ in range(KILLS):
        at = rng.uniform(0.2, 0.95) * whole
        kills.append({"after_s": round(at, 1), "exit": _ingest(hit, kill_after=at)})
    final = _ingest(hit)
    got = _dump(spark, hit / "lake", {layer: layer for layer in LAYERS})
    return {"ref": expected, "hit": got, "kills": kills, "final_exit": final,
            "whole_s": round(whole, 1)}


def test_the_runs_were_killed_mid_run_and_the_last_one_finished(trials):
    killed = [k for k in trials["kills"] if k["exit"] == -signal.SIGKILL]
    assert len(killed) >= KILLS - 1, trials["kills"]
    assert trials["final_exit"] == 0


def test_every_table_equals_the_ingest_that_was_never_killed(trials):
    ref, hit = trials["ref"], trials["hit"]
    assert set(hit) == set(ref) and len(ref) >= 10, (sorted(ref), sorted(hit))
    differ = {t: (len(ref[t]), len(hit[t])) for t in ref if ref[t] != hit[t]}
    assert differ == {}, (differ, trials["kills"])
