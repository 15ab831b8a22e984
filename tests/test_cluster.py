"""The cluster profile from nothing: PostgreSQL (Hive metastore and Airflow's metadata), a Spark
standalone master and two workers, and Airflow's scheduler with the LocalExecutor, all started
by PID on 127.0.0.1 in a data folder of their own (profile `cluster_test`: the cluster profile
on other ports).

The chain runs on the small lake's landing files through the real scheduler: the seven domains'
ingest DAGs triggered at once (the `spark` pool holds two, so two Spark applications run at
the same time), then the quality gate, the transform and the weekly review, each triggered
when the one before succeeded (the job schedule is off, which in Airflow 3 also stops
asset-triggered runs: lanhai.scheduler.run_chain). Meanwhile an analyst's Spark session
reads the marts while dbt writes them. Every KPI mart must equal the embedded profile's (the
`built` fixture, same landing files); at the end every service is stopped by PID and gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PROFILE = "cluster_test"
# An analyst's session (a Spark application of its own) counting a mart every 2 s until told
# to stop; each read is recorded with its time, or its error while the table does not exist.
READER = """
import json, os, sys, time
from lanhai.config import load_config
from lanhai.spark import get_spark
spark = get_spark(load_config())
out, stop = sys.argv[1], sys.argv[2]
reads = []
while not os.path.exists(stop):
    began = time.time()
    try:
        n = spark.sql("select count(*) from marts.fct_orders").first()[0]
        reads.append({"at": began, "done": time.time(), "rows": n})
    except Exception as err:  # the table may not exist yet: recorded, not fatal
        reads.append({"at": began, "done": time.time(), "error": str(err)[:300]})
    with open(out, "w") as f:
        json.dump(reads, f)
    time.sleep(2)
"""


def _own_config(data: Path):
    from lanhai.config import load_config

    saved = os.environ["LANHAI_DATA_DIR"]  # the test session's (conftest.data_dir)
    os.environ["LANHAI_DATA_DIR"] = str(data)
    try:
        return load_config(PROFILE)
    finally:
        os.environ["LANHAI_DATA_DIR"] = saved


@pytest.fixture(scope="module")
def cluster(built, config, request):
    """The cluster started from nothing on a copy of the small lake's landing files."""
    import socket

    from lanhai import airflow_env
    from lanhai import cluster as services

    # /tmp, not pytest's tmp folder: PostgreSQL runs as the postgres user, which must reach it
    data = Path(tempfile.mkdtemp(prefix="lanhai-cluster-", dir="/tmp"))
    data.chmod(0o755)
    own = _own_config(data)
    shutil.copytree(config.landing, own.landing)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"LANHAI_TASK_RETRIES": "0",                   # a failure shows at once
           "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}  # only the runs the test makes
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    began = time.monotonic()
    try:
        pids = services.up(own)
        airflow_env.setup(own)
        pids.update(airflow_env.up(own, port, services=("api-server", "scheduler",
                                                        "dag-processor")))
    except Exception:
        services.down(own)
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    state = {"config": own, "pids": pids, "port": port, "started_in": time.monotonic() - began,
             "password": airflow_env.admin_password(own)}
    yield state
    # everything the services started: Spark's executors, Airflow's task runners (groups of
    # their own) and their Spark drivers, PostgreSQL's backends
    started = [p for pid in pids.values() for p in airflow_env.descendants(pid)]
    stopped = services.down(own)
    assert sorted(stopped) == sorted(pids.values()), (stopped, pids)
    assert not services.still_running(pids), "still running after cluster-down"
    # psutil's processes: a PID reused since is not theirs
    left = [p.pid for p in started if airflow_env.alive(p)]
    assert not left, f"left running by cluster-down: {left}"
    # kept when asked, or when a test failed: its task logs under airflow/logs, for debugging
    if os.environ.get("LANHAI_KEEP_CLUSTER_DATA") or request.session.testsfailed:
        print(f"the cluster test's folder (task logs under airflow/logs) kept: {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def chain(cluster, config):
    """ingest (a DAG per domain) -> gate -> transform -> weekly review through the scheduler,
    with an analyst's session reading the marts while dbt writes them."""
    from lanhai.cluster import master_status
    from lanhai.intervals import last_complete_week
    from lanhai.scheduler import AirflowApi, run_chain

    own = cluster["config"]
    sim = config.raw["simulator"]
    start = date.fromisoformat(sim["start"])
    end = start + timedelta(days=sim["days"] - 1)
    api = AirflowApi(f"http://127.0.0.1:{cluster['port']}", cluster["password"])
    status, stop = own.data_dir / "reader.json", own.data_dir / "reader.stop"
    reader = {}

    def start_reader():
        # stderr to a file, not a pipe: Spark logs each failed read's stack trace there, and a
        # pipe nobody drains until the end fills (64 KB) and blocks the reader mid-query
        reader["log"] = (own.data_dir / "reader.log").open("wb")
        reader["proc"] = subprocess.Popen(
            [sys.executable, "-c", READER, str(status), str(stop)],
            env={**os.environ, "LANHAI_PROFILE": PROFILE, "LANHAI_DATA_DIR": str(own.data_dir)},
            stdout=subprocess.DEVNULL, stderr=reader["log"])

        def stop_reader():
            stop.touch()
            reader["proc"].wait(timeout=180)
            reader["log"].close()
            reader["stderr"] = (own.data_dir / "reader.log").read_text(errors="replace")

        return stop_reader

    week = last_complete_week(end)
    seconds = run_chain(api, start, end, week, during_transform=start_reader)
    assert reader["proc"].returncode == 0, reader["stderr"][-3000:]
    print(f"cluster started in {cluster['started_in']:.0f} s; chain {seconds}")
    return {"start": start, "end": end, "week": week, "seconds": seconds,
            "reads": json.loads(status.read_text()) if status.exists() else [],
            "runs": api.runs(), "tasks": api.task_instances(), "apps": master_status(own)}


def test_every_dag_of_the_chain_succeeded_under_the_scheduler(chain):
    from lanhai.airflow_env import chain as chain_ids

    runs = {r["dag_id"]: r["state"] for r in chain["runs"]}
    assert {d: runs.get(d) for d in chain_ids()} == {d: "success" for d in chain_ids()}
    transform = [t["task_id"] for t in chain["tasks"] if t["dag_id"] == "lanhai_transform"]
    assert {"dbt_build_staging", "dbt_build_core", "dbt_build_kpi",
            "dbt_build_review"} <= set(transform)


def when(value: str) -> float:
    from lanhai.scheduler import when as seconds

    return seconds(value)


def _overlap(spans: list[tuple[float, float]]) -> bool:
    spans = sorted(spans)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_two_spark_tasks_ran_at_the_same_time(chain):
    from lanhai.airflow_env import chain as chain_ids

    domains = [d for d in chain_ids() if d.startswith("lanhai_ingest_")]
    ingest = [(when(t["start_date"]), when(t["end_date"])) for t in chain["tasks"]
              if t["dag_id"].startswith("lanhai_ingest_") and t["task_id"] == "ingest"]
    assert len(ingest) == len(domains) >= 2, (len(ingest), domains)
    assert _overlap(ingest), "no two ingest tasks overlapped"
    # the master saw two applications running at once
    apps = [(a["starttime"] / 1000, a["starttime"] / 1000 + a["duration"] / 1000)
            for a in chain["apps"]["completedapps"]]
    assert len(apps) >= 8 and _overlap(apps), chain["apps"]["completedapps"]


def test_an_analyst_read_the_marts_while_dbt_wrote_them(chain):
    marts = [t for t in chain["tasks"] if t["task_id"] in ("dbt_build_kpi", "dbt_build_review")]
    lo = min(when(t["start_date"]) for t in marts)
    hi = max(when(t["end_date"]) for t in marts)
    during = [r for r in chain["reads"] if lo <= r["at"] and r["done"] <= hi]
    ok = [r for r in during if "rows" in r]
    assert ok, f"no successful read while dbt built the marts: {chain['reads'][-5:]}"
    errors = [r["error"] for r in chain["reads"] if "error" in r
              and "TABLE_OR_VIEW_NOT_FOUND" not in r["error"]]
    assert not errors, errors
    assert all(r["rows"] > 0 for r in ok)


def test_every_kpi_mart_equals_the_embedded_profiles(chain, cluster, spark, config):
    own = cluster["config"]
    names = sorted(t.name for t in spark.catalog.listTables(config.db("marts"))
                   if t.name.startswith(("kpi_", "mart_weekly_review")) and not t.isTemporary
                   and t.tableType != "VIEW")
    assert len(names) > 10
    for name in names:
        embedded = spark.table(f"{config.db('marts')}.{name}").drop("dbt_built_at")
        path = own.lake / f"{own.db('marts')}.db" / name
        on_cluster = spark.read.format("delta").load(str(path)).drop("dbt_built_at")
        assert on_cluster.count() == embedded.count(), name
        assert on_cluster.exceptAll(embedded).count() == 0, name
        assert embedded.exceptAll(on_cluster).count() == 0, name


def test_the_weekly_review_was_built_on_the_cluster(chain, cluster):
    folder = cluster["config"].path("reports") / chain["week"]
    snapshot = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    assert snapshot["status"] == "ok"
    for lang in ("zh", "en"):
        assert (folder / f"review-{chain['week']}.{lang}.pdf").stat().st_size > 10_000


def test_services_listen_on_loopback_only(cluster):
    from lanhai.cluster import LOOPBACK, listening

    sockets = listening(cluster["pids"])
    assert {name for name, _, _ in sockets} >= {"postgres", "spark-master", "api-server"}
    assert all(ip in LOOPBACK for _, ip, _ in sockets), sockets


# --- the analysts' SQL endpoint (issue 12): Spark's Thrift server on the cluster's catalog ---
@pytest.fixture(scope="module")
def endpoint(chain, cluster):
    """The SQL endpoint started on the cluster the chain built, stopped by PID at the end."""
    from lanhai import sql_endpoint
    from lanhai.cluster import still_running

    own = cluster["config"]
    began = time.monotonic()
    pid = sql_endpoint.up(own)
    try:
        yield {"config": own, "pid": pid, "started_in": time.monotonic() - began,
               "password": sql_endpoint.password(own, "analyst")}
    finally:
        assert sql_endpoint.down(own) == pid
        assert not still_running({"sql-server": pid})


def _beeline(endpoint, statement, user="analyst", password=None):
    from lanhai.sql_endpoint import beeline

    return beeline(endpoint["config"], user, password or endpoint["password"], statement)


def _error(proc) -> str:
    return next((line for line in proc.stderr.splitlines() if line.startswith("Error")),
                proc.stderr[-500:])


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*)?")


def _cell(value) -> str | None:  # noqa: PLR0911 - one return per kind of value
    """One value as the endpoint's client and DuckDB's Python value compare: numbers as
    numbers, timestamps to the second without trailing zeros, NULL as None, arrays and structs
    as the Thrift server writes them (JSON without spaces). Called for each of the marts'
    ~25M values on each side: the imports and patterns are the module's (with them here,
    this took 123 s of DuckDB's side alone)."""
    if value is None or value == "NULL":
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, int | float | Decimal):
        return repr(float(value))
    text = str(value)
    if _NUMBER.fullmatch(text):
        return repr(float(text))
    if _TIMESTAMP.fullmatch(text):
        return text.rstrip("0").rstrip(".")
    return text


def _pyhive(endpoint, user="analyst", password=None):
    from lanhai.sql_endpoint import connect

    return connect(endpoint["config"], user, password or endpoint["password"])


@pytest.mark.timeout(1800, func_only=True)  # PyHive's socket has no timeout of its own
def test_an_analyst_reads_every_mart_through_the_endpoint_as_the_fast_path_does(endpoint):
    """An analyst's Python client (PyHive, one connection: a Beeline JVM per mart took 456 s)
    logged in as `analyst` gets every mart's rows, and they are the fast path's (DuckDB over
    the same Delta tables, no JVM). Beeline itself reads a mart in the read-only test below."""
    from lanhai.sql import FastPath

    own = endpoint["config"]
    with FastPath(own) as fast, _pyhive(endpoint) as conn:
        tables = fast.tables()
        assert len(tables) > 20 and "kpi_gmv_weekly" in tables
        cursor = conn.cursor()
        for table in tables:
            cursor.execute(f"select * from {own.db('marts')}.{table}")
            columns = [d[0].rsplit(".", 1)[-1] for d in cursor.description]
            rows = cursor.fetchall()
            duck = fast.query(f"select * from {table}")
            assert columns == duck.column_names, table
            got = sorted((tuple(_cell(v) for v in r) for r in rows), key=repr)
            want = sorted((tuple(_cell(v) for v in r.values()) for r in duck.to_pylist()),
                          key=repr)
            assert len(got) == duck.num_rows > 0, table
            assert got == want, table


@pytest.mark.timeout(600, func_only=True)
def test_the_endpoint_refuses_anonymous_and_wrong_logins(endpoint):
    # no user name (Beeline, with the analyst's password); a wrong password, an unknown user
    proc = _beeline(endpoint, "select 1", user=None)
    assert proc.returncode != 0 and "Error validating the login" in _error(proc)
    for user, password in (("analyst", "not-the-password"), ("nobody", "x")):
        with pytest.raises(Exception, match="Error validating the login"):
            _pyhive(endpoint, user, password).close()


@pytest.mark.timeout(600, func_only=True)
def test_the_endpoint_reads_the_marts_only_and_writes_nothing(endpoint):
    own = endpoint["config"]
    with _pyhive(endpoint) as conn:
        cursor = conn.cursor()
        for statement, why in (
                (f"select * from {own.db('bronze')}.users", "is not readable"),
                (f"select * from {own.db('quarantine')}.records", "is not readable"),
                (f"select * from delta.`{own.lake}/{own.db('bronze')}.db/users`",
                 "TABLE_OR_VIEW_NOT_FOUND"),
                (f"drop table {own.db('marts')}.kpi_gmv_weekly", "read-only")):
            with pytest.raises(Exception, match=why):
                cursor.execute(statement)
    # and Beeline, the JDBC client that ships with Spark, reads a mart
    proc = _beeline(endpoint, f"select count(*) from {own.db('marts')}.kpi_gmv_weekly")
    assert proc.returncode == 0 and int(proc.stdout.splitlines()[-1]) > 0
