"""Airflow for this project: its environment, set-up, and the services by PID.

`lanhai airflow-setup` migrates the metadata DB (SQLite on the embedded profile, the
cluster's PostgreSQL on the cluster profile), creates the `spark` pool (one slot on the
embedded catalog, `airflow.spark_pool_slots` on the cluster), builds the dbt manifest and
the admin's password; `lanhai airflow-up` starts the API server (UI on 127.0.0.1:8080),
scheduler, DAG processor and triggerer in the background, each with a PID file;
`lanhai airflow-down` stops them by PID; `lanhai airflow <args>` runs the airflow CLI in
this environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from lanhai.config import PROJECT_ROOT, Config
from lanhai.intervals import last_complete_week

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# The scheduler's and triggerer's log servers listen on every interface (Airflow hard-codes
# the host); the API server reads the task logs from the same disk, so they are not started.
SERVICE_ARGS = {"scheduler": ["--skip-serve-logs"], "triggerer": ["--skip-serve-logs"]}

# The embedded default keeps Airflow's metadata in SQLite (WAL). The API server, scheduler,
# DAG processor and CLI all write to it; with SQLite's default busy wait (5 s) a CLI write
# (`backfill create`) can fail with "database is locked" while a service holds the lock on a
# loaded 2-core machine (the likely cause of one CI failure). Writers wait up to a minute.
# (A PostgreSQL URL in AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is used as given, without these.)
SQLITE_CONNECT_ARGS = {"timeout": 60}
SQLITE_ARGS_KEYS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC")


def environ(config: Config, port: int = 8080, home: Path | None = None) -> dict[str, str]:
    """The environment every airflow process of this project runs with."""
    home = home or config.path("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(config.airflow.get("parallelism", 2)),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(config.airflow.get("parallelism", 2)),
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "TQDM_DISABLE": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "LANHAI_PROFILE": config.profile,
        "LANHAI_DATA_DIR": str(config.data_dir),
        "LANHAI_TASK_RETRIES": os.environ.get("LANHAI_TASK_RETRIES", "2"),
    }
    if config.catalog["kind"] == "postgres" and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:
        # the cluster's PostgreSQL; Airflow reads the URL (it holds the password) from a 0600
        # file when it needs it, so it is in no environment or command line
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] = f"cat {airflow_db_url_file(config)}"
        # SQLite's arguments, inherited from an embedded profile's Airflow run in this process
        # (run_chain sets them in os.environ; the cluster test runs both): psycopg2 refuses
        # them ("invalid connection option timeout") and `airflow db migrate` fails
        for key in SQLITE_ARGS_KEYS:
            if env.get(key) == "lanhai.airflow_env.SQLITE_CONNECT_ARGS":
                del env[key]
    elif env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite").startswith("sqlite"):
        for key in SQLITE_ARGS_KEYS:
            env[key] = "lanhai.airflow_env.SQLITE_CONNECT_ARGS"
    return env


def airflow_db_url_file(config: Config) -> Path:
    """The cluster profile's Airflow database URL, written once into a 0600 secrets file."""
    from lanhai.cluster import airflow_db_url, write_private

    path = config.secret_path("airflow_db_url")
    url = airflow_db_url(config)
    if not path.exists() or path.read_text(encoding="utf-8").strip() != url:
        write_private(path, url)
    return path


def spark_pool_slots(config: Config) -> int:
    """Spark applications at once: 1 on the embedded catalog (one JVM may open it), what the
    cluster's workers hold on the cluster profile."""
    return int(config.airflow.get("spark_pool_slots", 1))


def set_pool(config: Config, env: dict[str, str] | None = None) -> None:
    slots = spark_pool_slots(config)
    why = ("One Spark process at a time: the embedded catalog admits one JVM" if slots == 1
           and config.catalog["kind"] == "embedded" else
           f"{slots} Spark applications at once on the cluster")
    subprocess.run([airflow_bin(), "pools", "set", "spark", str(slots), why],
                   env=env or environ(config), check=True, capture_output=True)


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def run(config: Config, args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([airflow_bin(), *args], env=environ(config), check=check, **kw)


def run_quietly(config: Config, args: list[str]) -> None:
    """An airflow command whose output is wanted only when it fails: then its error says
    what the command printed."""
    proc = run(config, args, check=False, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed ({proc.returncode}):\n"
                           f"{(proc.stderr or proc.stdout)[-3000:]}")


def admin_password(config: Config, home: Path | None = None) -> str:
    """The admin's password: $LANHAI_AIRFLOW_PASSWORD, else generated once and kept in the
    passwords file (never a fixed default)."""
    home = home or config.path("airflow")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "passwords.json"
    wanted = os.environ.get("LANHAI_AIRFLOW_PASSWORD")
    current = json.loads(path.read_text()) if path.exists() else {}
    if wanted and current.get("admin") != wanted:
        current["admin"] = wanted
    current.setdefault("admin", secrets.token_urlsafe(12))
    path.write_text(json.dumps(current))
    path.chmod(0o600)
    return current["admin"]


def setup(config: Config) -> None:
    """Metadata DB, the spark pool, the dbt manifest, the admin's password."""
    from lanhai.dbt import build_manifest

    admin_password(config)
    build_manifest(config)
    run_quietly(config, ["db", "migrate"])
    set_pool(config)


def pid_dir(config: Config, home: Path | None = None) -> Path:
    path = (home or config.path("airflow")) / "pids"
    path.mkdir(parents=True, exist_ok=True)
    return path


def up(config: Config, port: int = 8080, timeout: float = 180, home: Path | None = None,
       services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """Start the services in the background (PID files); wait for the UI to answer."""
    import urllib.request

    env = environ(config, port, home)
    pids = {}
    logs = Path(env["AIRFLOW_HOME"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for service in services:
        args = [airflow_bin(), service, *SERVICE_ARGS.get(service, [])] + (
            ["--port", str(port)] if service == "api-server" else [])
        out = (logs / f"{service}.out").open("ab")
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        (pid_dir(config, home) / f"{service}.pid").write_text(str(proc.pid))
        pids[service] = proc.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                        timeout=5):
                return pids
        except OSError:
            time.sleep(2)
    down(config, home=home)
    raise RuntimeError(f"Airflow did not answer on 127.0.0.1:{port} within {timeout:.0f} s; "
                       f"see {logs}")


def down(config: Config, grace: float = 30, home: Path | None = None) -> list[int]:
    """Stop every service started by `up`, by PID (its whole process group, and the groups of
    its descendants: Airflow 3 runs each task in a process group of its own). A PID file that
    another `down` removed meanwhile (a user's `make cluster-down` beside a bench's own) is
    skipped."""
    stopped = []
    for pid_file in sorted(pid_dir(config, home).glob("*.pid")):
        try:
            pid = int(pid_file.read_text())
        except FileNotFoundError:
            continue
        if stop_tree(pid, signal.SIGTERM, grace):
            stopped.append(pid)
        pid_file.unlink(missing_ok=True)
    return stopped


def descendants(pid: int) -> list:
    """A process's children, theirs, and so on, as psutil processes (none if it is gone)."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _in_session(sid: int, born: float, spare: set[int]) -> list:
    """The processes of session `sid` started since `born` (what a service started, in groups
    of its own, after its descendants were listed), but those in `spare`."""
    import psutil

    out = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if proc.pid not in spare and os.getsid(proc.pid) == sid \
                    and proc.create_time() >= born:
                out.append(proc)
    return out


def alive(proc) -> bool:
    """Whether a psutil process still runs (a zombie has ended; a reused PID is not it)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_tree(pid: int, sig: int, grace: float) -> bool:
    """Stop the service led by `pid` (started in a session and process group of its own) and
    everything it started; whether it was running.

    Its group gets `sig` first, alone (PostgreSQL's postmaster must shut its own children
    down), then SIGKILL after `grace` seconds. Then whatever it started is still there gets
    SIGTERM at once and SIGKILL after `grace`: the descendants listed before the signal, in
    process groups of their own (Airflow 3's supervisor puts each task runner in one, with the
    Spark driver it starts), and the processes of its session started since it was (a task
    runner forked meanwhile). psutil's processes, so a PID reused meanwhile is never signalled;
    never this process, its parents or its own session or group."""
    import psutil

    # refused by number, before asking whether it runs: a group or session whose leader has
    # exited (a shell that started this process in the background) is still ours
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    ours = {os.getsid(0), os.getpgid(0)}
    if pid in mine or pid in ours:
        raise RuntimeError(f"refusing to stop PID {pid}: it is this process, its parent, or "
                           "their session or group (a stale PID file?)")
    try:
        leader = psutil.Process(pid)
        born = leader.create_time()
    except psutil.NoSuchProcess:
        return False
    tree = [p for p in descendants(pid) if p.pid not in mine]
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    if not _wait_gone(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _wait_gone(pid, 15)
    left = [p for p in tree if alive(p)]  # psutil: not a PID reused since
    seen = {p.pid for p in left}
    left += [p for p in _in_session(pid, born, mine) if p.pid not in seen]
    groups = set()
    for proc in left:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(proc.pid))
    groups -= ours
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()  # psutil checks that the PID was not reused
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait for a signalled process group to vanish (reaping the leader if this process
    started it); whether it did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def chain() -> list[str]:
    """The DAGs of one pass over the data, in the pipeline's order (lanhai.pipeline): each
    domain's ingest, the gate, dbt, the weekly review."""
    from lanhai.pipeline import dag_chain

    return dag_chain()


class ChainFailed(RuntimeError):
    """A DAG of the chain did not succeed."""


def run_chain(config: Config, start, end, home: Path | None = None, progress=None,
              finished=None, only: set[str] | None = None) -> dict:
    """Run the chain through Airflow in this process, one DAG run per stage over [start, end]
    (`dag.test()`, what `airflow dags test` does: the tasks share this process's Spark session
    and catalog). `progress(dag_id)` is called as each DAG starts, `finished(dag_id, (state,
    seconds, tasks))` as it ends; `only` runs those of the chain's DAGs alone. Returns
    {dag_id: (state, seconds, {task_id: state})}; raises ChainFailed naming the DAG and its
    failed tasks."""
    env = environ(config, home=home)
    if "airflow.configuration" in sys.modules and \
            os.environ.get("AIRFLOW_HOME") != env["AIRFLOW_HOME"]:
        raise RuntimeError("Airflow was imported before its environment was set")
    os.environ.update({k: v for k, v in env.items() if k not in os.environ
                       or k.startswith(("AIRFLOW", "LANHAI"))})
    admin_password(config, home)
    from lanhai.dbt import build_manifest

    build_manifest(config)
    subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True)
    set_pool(config, env)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise ChainFailed(f"DAG import errors: {bag.import_errors}")
    conf = {"interval_start": str(start), "interval_end": str(end)}
    results = {}
    for dag_id in chain():
        if only is not None and dag_id not in only:
            continue
        began = time.perf_counter()
        if progress:
            progress(dag_id)
        run_conf = ({"week": last_complete_week(end)} if dag_id == "lanhai_weekly_review"
                    else conf)
        run = bag.get_dag(dag_id).test(run_conf=run_conf)
        tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        results[dag_id] = (str(run.state), round(time.perf_counter() - began, 1), tasks)
        if finished:
            finished(dag_id, results[dag_id])
        if str(run.state) != "success":
            failed = [t for t, s in tasks.items() if s != "success"]
            raise ChainFailed(f"{dag_id} ended {run.state}: tasks not successful: {failed}")
    return results
