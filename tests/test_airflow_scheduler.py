"""A smoke run under the real scheduler: Airflow's scheduler, DAG processor and API server
started as services (by PID, on 127.0.0.1) on a lake of their own (its own catalog, so the
test session's Spark does not hold it), and a backfill of the daily fx ingest over three past
days run by the LocalExecutor. Every backfill run must succeed, record its own day in the
audit, and silver must hold exactly the clean FX rates the simulator planted; the latest
scheduled run (on stale data) must raise the freshness alert.

(It found a bug `airflow dags test` cannot: scheduled runs carry pendulum dates, which
PySpark's DateType refused in the audit row.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

DAG = "lanhai_ingest_fx"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, config):
    """Services on their own data folder; stopped by PID at the end."""
    from lanhai import airflow_env
    from lanhai.config import load_config
    from lanhai.simulator import simulate

    data = tmp_path_factory.mktemp("scheduler-lake")
    saved = os.environ.get("LANHAI_DATA_DIR")
    os.environ["LANHAI_DATA_DIR"] = str(data)
    try:
        own = load_config("test")
    finally:
        os.environ["LANHAI_DATA_DIR"] = saved
    start = date(2025, 3, 1)
    no_defects = {k: 0 for k in own.raw["simulator"]["defects"]}  # 0 turns a defect off
    result = simulate(own.landing, own.path("simulator"), start=start, days=28, scale="tiny",
                      seed=11, defects=no_defects)
    home = own.path("airflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retries = os.environ.get("LANHAI_TASK_RETRIES")
    os.environ["LANHAI_TASK_RETRIES"] = "0"  # a failure shows at once instead of after back-off
    try:
        airflow_env.setup(own)
        pids = airflow_env.up(own, port, home=home,
                              services=("api-server", "scheduler", "dag-processor"))
    finally:
        if retries is None:
            os.environ.pop("LANHAI_TASK_RETRIES")
        else:
            os.environ["LANHAI_TASK_RETRIES"] = retries
    yield {"config": own, "start": start, "manifest": result.manifest, "pids": pids,
           "home": home}
    stopped = airflow_env.down(own, home=home)
    assert sorted(stopped) == sorted(pids.values()), "a service was not running at the end"
    for pid in pids.values():
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split(") ")[1][0] == "Z", \
            f"service pid {pid} still running"


def _airflow(own, *args, check=True) -> subprocess.CompletedProcess:
    from lanhai import airflow_env

    proc = airflow_env.run(own, list(args), check=False, capture_output=True, text=True)
    assert not check or proc.returncode == 0, \
        f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def _runs(own) -> list[dict]:
    proc = _airflow(own, "dags", "list-runs", DAG, "-o", "json", check=False)
    # the CLI prints warnings (graphviz) on stdout before the JSON
    lines = [x for x in proc.stdout.splitlines() if x.startswith("[")]
    return json.loads(lines[-1]) if proc.returncode == 0 and lines else []


def test_a_backfill_runs_under_the_scheduler_and_every_run_succeeds(airflow):
    own, start = airflow["config"], airflow["start"]
    deadline = time.monotonic() + 180
    while True:  # the DAG processor parses dags/ first
        listed = _airflow(own, "dags", "list", "-o", "json", check=False)
        if listed.returncode == 0 and DAG in listed.stdout:
            break
        assert time.monotonic() < deadline, listed.stderr[-2000:]
        time.sleep(5)
    first, last = start + timedelta(days=20), start + timedelta(days=22)
    _airflow(own, "dags", "unpause", DAG)
    create = ["backfill", "create", "--dag-id", DAG, "--from-date", first.isoformat(),
              "--to-date", last.isoformat(), "--max-active-runs", "1"]
    made = _airflow(own, *create, check=False)
    # SQLite busy past its 60 s timeout (the scheduler writes too; a loaded machine): again
    for _ in range(4):
        if not (made.returncode and "database is locked" in made.stderr):
            break
        time.sleep(10)
        made = _airflow(own, *create, check=False)
    assert made.returncode == 0, f"backfill create exited {made.returncode}:\n{made.stderr[-3000:]}"
    # a hang guard, not a timing: on a loaded machine each task's JVM starts slowly
    deadline = time.monotonic() + 2400
    while True:
        runs = _runs(own)
        backfill = [r for r in runs if r["run_id"].startswith("backfill__")]
        if len(backfill) == 3 and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, f"runs not finished: {runs}"
        time.sleep(10)
    assert sorted(r["state"] for r in backfill) == ["success"] * 3, backfill
    days = sorted(datetime.fromisoformat(r["logical_date"]).astimezone(SHANGHAI).date()
                  for r in backfill)
    assert days == [first + timedelta(days=i) for i in range(3)]
    airflow["runs"] = runs


def test_the_pipeline_audit_has_each_backfill_days_interval(airflow):
    """Each backfill run recorded its own day (its data interval, Asia/Shanghai)."""
    own, start = airflow["config"], airflow["start"]
    recorded = set()
    log = own.lake / "audit.db" / "pipeline_runs" / "_delta_log"
    files = [json.loads(line)["add"]["path"] for commit in sorted(log.glob("*.json"))
             for line in commit.read_text().splitlines() if '"add"' in line]
    import pyarrow.parquet as pq

    for f in files:
        for row in pq.read_table(log.parent / f).to_pylist():
            if row["run_id"].startswith("backfill__"):
                assert row["status"] == "success"
                recorded.add((row["interval_start"], row["interval_end"]))
    first = start + timedelta(days=20)
    assert recorded == {(first + timedelta(days=i),) * 2 for i in range(3)}


def test_a_scheduled_run_on_stale_data_raises_the_freshness_alert(airflow):
    """Unpaused (catchup off), the DAG's latest daily run covers yesterday, long after the
    simulated data ended: ingest succeeds, freshness fails with the alert, and the failure
    callback logs its one line."""
    scheduled = [r for r in airflow.get("runs", []) if r["run_id"].startswith("scheduled__")]
    assert scheduled and all(r["state"] == "failed" for r in scheduled), scheduled
    logs = airflow["home"] / "logs" / f"dag_id={DAG}" / f"run_id={scheduled[0]['run_id']}"
    freshness = "".join(p.read_text() for p in logs.glob("task_id=freshness/*.log"))
    assert "LANHAI LATE DATA fx" in freshness
    assert "LANHAI FAILURE dag=lanhai_ingest_fx task=freshness" in freshness
    ingest = "".join(p.read_text() for p in logs.glob("task_id=ingest/*.log"))
    assert "LANHAI FAILURE" not in ingest


def test_the_scheduled_tasks_loaded_silver(airflow):
    """Read silver.fx_rates' Delta log (the test session's Spark holds another catalog)."""
    own = airflow["config"]
    log = own.lake / "silver.db" / "fx_rates" / "_delta_log"
    rows = 0
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action and action["add"].get("stats"):
                rows += json.loads(action["add"]["stats"])["numRecords"]
            assert "remove" not in action, "the first loads only add files"
    # simulated without defects: every FX record the simulator wrote is a clean, unique rate
    assert rows == airflow["manifest"]["records"]["fx_rates"] > 0


def test_the_services_listen_on_loopback_only(airflow):
    """Every socket of the API server, scheduler and DAG processor (and their children, such as
    Airflow's log server, which binds every interface unless it is skipped) is on 127.0.0.1."""
    from lanhai.cluster import LOOPBACK, listening

    sockets = listening(airflow["pids"])
    assert any(name == "api-server" for name, _, _ in sockets), sockets
    assert all(ip in LOOPBACK for _, ip, _ in sockets), sockets
