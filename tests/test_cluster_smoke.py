"""The cluster profile's services from nothing, and two Spark applications sharing its catalog
at once (the quick part of `make test-cluster`; tests/test_cluster.py runs the whole chain).

PostgreSQL (metastore), a Spark master and two workers start by PID on 127.0.0.1 in a data
folder of their own (profile `cluster_test`). Two processes, each a Spark application on the
master, MERGE their own rows into one Delta table at the same time and read it back through
the shared metastore: both finish (a conflicting MERGE is retried), the table holds every row
of both, and the master saw the two applications running at once. Then `cluster-down` stops
every service and no process is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PROFILE = "cluster_test"
# One writer: MERGE one row per round into audit.smoke (writer a makes it, b waits until the
# catalog lists it), then count the table through the catalog; print what it saw.
WRITER = """
import json, sys, time
from delta.tables import DeltaTable
from lanhai.config import load_config
from lanhai.conflicts import retry_on_conflict
from lanhai.spark import get_spark
name, rounds = sys.argv[1], int(sys.argv[2])
spark = get_spark(load_config())
if name == "a":  # one makes the table; the other finds it through the shared metastore
    spark.sql("create table audit.smoke (writer string, n int) using delta")
deadline = time.monotonic() + 300
while not spark.catalog.tableExists("audit.smoke"):
    assert time.monotonic() < deadline, "the table never appeared in the catalog"
    time.sleep(1)
seen = []
for n in range(rounds):
    rows = spark.createDataFrame([(name, n)], "writer string, n int")
    retry_on_conflict(lambda: DeltaTable.forName(spark, "audit.smoke").alias("t").merge(
        rows.alias("s"), "t.writer = s.writer and t.n = s.n").whenNotMatchedInsertAll()
        .execute(), table="audit.smoke", attempts=10, wait=0.5)
    seen.append(spark.sql("select count(*) from audit.smoke").first()[0])
    time.sleep(1)
print("SEEN " + json.dumps(seen), flush=True)
"""


@pytest.fixture(scope="module")
def cluster(data_dir):
    from lanhai import cluster as services
    from lanhai.config import load_config

    # /tmp, not pytest's tmp folder: PostgreSQL runs as the postgres user, which must reach it
    data = Path(tempfile.mkdtemp(prefix="lanhai-cluster-smoke-", dir="/tmp"))
    data.chmod(0o755)
    os.environ["LANHAI_DATA_DIR"] = str(data)
    try:
        own = load_config(PROFILE)
    finally:
        os.environ["LANHAI_DATA_DIR"] = str(data_dir)
    began = time.monotonic()
    try:
        pids = services.up(own)
    except Exception:
        services.down(own)
        raise
    yield {"config": own, "pids": pids, "up_s": time.monotonic() - began}
    stopped = services.down(own)
    assert sorted(stopped) == sorted(pids.values()), (stopped, pids)
    assert not services.still_running(pids), "still running after cluster-down"
    shutil.rmtree(data, ignore_errors=True)


def test_the_services_run_and_listen_on_loopback_only(cluster):
    from lanhai.cluster import LOOPBACK, listening, workers_alive

    own = cluster["config"]
    assert set(cluster["pids"]) == {"postgres", "spark-master", "spark-worker-1",
                                    "spark-worker-2"}
    assert workers_alive(own) == 2
    sockets = listening(cluster["pids"])
    assert {n for n, _, _ in sockets} == set(cluster["pids"]), sockets
    assert all(ip in LOOPBACK for _, ip, _ in sockets), sockets


def test_the_metastore_was_made_once_and_holds_the_lakes_databases(cluster):
    from lanhai.cluster import _pg_connect, init_metastore

    own = cluster["config"]
    assert init_metastore(own) is False  # already there: nothing to do
    conn = _pg_connect(own, own.cluster["postgres"]["metastore_db"])
    with conn, conn.cursor() as cur:
        cur.execute('select "NAME" from "DBS"')
        names = {r[0] for r in cur.fetchall()}
    conn.close()
    assert {own.db(layer) for layer in own.raw["databases"]} <= names


def test_two_applications_write_and_read_one_table_at_once(cluster):
    from lanhai.cluster import _pg_connect, master_status

    own = cluster["config"]
    env = {**os.environ, "LANHAI_PROFILE": PROFILE, "LANHAI_DATA_DIR": str(own.data_dir)}
    rounds = 4
    procs = {name: subprocess.Popen([sys.executable, "-c", WRITER, name, str(rounds)], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")}
    both_running = False
    deadline = time.monotonic() + 600
    while any(p.poll() is None for p in procs.values()):
        assert time.monotonic() < deadline, "the writers did not finish within 10 minutes"
        active = master_status(own)["activeapps"]
        both_running |= sum(a["state"] == "RUNNING" for a in active) >= 2
        time.sleep(1)
    seen = {}
    for name, proc in procs.items():
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
        seen[name] = json.loads([x for x in out.splitlines() if x.startswith("SEEN ")][0][5:])
    assert both_running, "the master never ran the two applications at once"
    apps = master_status(own)["completedapps"]
    assert len(apps) >= 2
    # each read the table through the catalog after every MERGE and saw it grow
    assert all(s == sorted(s) and s[-1] >= rounds for s in seen.values()), seen
    conn = _pg_connect(own, own.cluster["postgres"]["metastore_db"])
    with conn, conn.cursor() as cur:  # one table in the shared metastore, made by one of them
        cur.execute("""select count(*) from "TBLS" where "TBL_NAME" = 'smoke'""")
        assert cur.fetchone()[0] == 1
    conn.close()


def test_every_row_of_both_writers_is_in_the_table(cluster, spark):
    path = cluster["config"].lake / "audit.db" / "smoke"
    rows = {(r.writer, r.n) for r in spark.read.format("delta").load(str(path)).collect()}
    assert rows == {(w, n) for w in "ab" for n in range(4)}
