"""The cluster profile's services, started and stopped by PID (`lanhai cluster-up/-down`).

- **PostgreSQL** from Debian's package: a database cluster of the project's own under
  `<data_dir>/cluster/postgres`, run as the `postgres` user when this process is root (initdb
  and postgres refuse root), listening on 127.0.0.1 only, password authentication (scram)
  for the `lanhai` role. It holds two databases: the Hive metastore and Airflow's metadata.
- **The metastore schema** is made once, idempotently: if the metastore database lacks its
  tables, DataNucleus' SchemaTool creates all of them from Hive's model, then a short local
  Spark process creates the lake's databases; no job ever creates a schema table, so
  processes never race (or deadlock) over one.
- **A Spark standalone master and workers** from the pip-installed Spark (`spark-class`, no
  download), on 127.0.0.1; jobs, dbt and readers submit to `spark://127.0.0.1:<port>` with
  the Delta jars in `spark.jars` (shipped to the executors by the driver).

Every service is a process group of its own with a PID file under `cluster/pids/`; `down`
signals each group and waits until it is gone. Logs go to `cluster/logs/<service>.log`.
Passwords are generated once into `<data_dir>/secrets/` (mode 0600) and never printed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lanhai.config import PROJECT_ROOT, Config

PG_SERVICE = "postgres"


class ClusterError(RuntimeError):
    """A service of the cluster profile could not be started or reached."""


def _cluster(config: Config) -> dict:
    if not config.cluster:
        raise ClusterError(f"profile {config.profile!r} has no `cluster:` section: the services "
                           "belong to the cluster profile (LANHAI_PROFILE=cluster)")
    return config.cluster


def folder(config: Config, name: str = "") -> Path:
    path = config.path("cluster") / name if name else config.path("cluster")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- secrets ----------------------------------------------------------------------------------
def write_private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (mode 0600, its folder created 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _secret(path: Path, make: Callable[[], str]) -> str:
    """Read a secret, generating it once (mode 0600) if it does not exist."""
    if not path.exists():
        write_private(path, make())
    return path.read_text(encoding="utf-8").strip()


def metastore_password(config: Config) -> str:
    """The `lanhai` role's password (the metastore's and Airflow's database user)."""
    return _secret(config.secret_path("postgres.password"), lambda: secrets.token_urlsafe(24))


def ensure_pii_key(config: Config) -> None:
    """Generate the profile's PII key file once, unless the key comes from the environment."""
    if os.environ.get(config.raw["pii"]["key_env"]) or config.pii_key_file is None:
        return
    _secret(config.pii_key_file, lambda: secrets.token_hex(32))


def airflow_db_url(config: Config) -> str:
    pg = _cluster(config)["postgres"]
    return (f"postgresql+psycopg2://{pg['user']}:{metastore_password(config)}@"
            f"{config.cluster['host']}:{pg['port']}/{pg['airflow_db']}")


# --- processes --------------------------------------------------------------------------------
@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None          # run as this system user (PostgreSQL, when we are root)
    ready: Callable[[], bool] | None = None
    stop_signal: int = signal.SIGTERM


def pid_file(config: Config, name: str) -> Path:
    return folder(config, "pids") / f"{name}.pid"


def running(config: Config) -> dict[str, int]:
    """The services whose PID file names a live process group."""
    out = {}
    for path in sorted(folder(config, "pids").glob("*.pid")):
        pid = int(path.read_text())
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            continue
        out[path.stem] = pid
    return out


def _start(config: Config, service: Service, timeout: float) -> int:
    log = folder(config, "logs") / f"{service.name}.log"
    out = log.open("ab")
    kwargs = {}
    if service.user:
        kwargs = {"user": service.user, "group": pwd.getpwnam(service.user).pw_gid,
                  "extra_groups": []}
    proc = subprocess.Popen(service.argv, env={**os.environ, **service.env}, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=folder(config), **kwargs)
    pid_file(config, service.name).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while service.ready and not service.ready():
        if proc.poll() is not None:
            raise ClusterError(f"{service.name} exited with {proc.returncode} at start; see "
                               f"{log}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{service.name} not ready within {timeout:.0f} s; see {log}:\n"
                               f"{_tail(log)}")
        time.sleep(0.5)
    return proc.pid


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def stop(config: Config, name: str, grace: float = 60) -> int | None:
    """Stop one service by its PID file, and what it started (airflow_env.stop_tree): its
    signal, then SIGKILL after `grace` seconds."""
    from lanhai.airflow_env import stop_tree

    path = pid_file(config, name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    sig = signal.SIGINT if name == PG_SERVICE else signal.SIGTERM  # PostgreSQL: fast shutdown
    ran = stop_tree(pid, sig, grace)
    path.unlink()
    return pid if ran else None


# --- PostgreSQL -------------------------------------------------------------------------------
def pg_bin(name: str) -> str:
    """A PostgreSQL server program from Debian's package (/usr/lib/postgresql/<v>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return str(found[-1])
    if path := shutil.which(name):
        return path
    raise ClusterError(f"PostgreSQL's {name} is not installed: run `make system` "
                       "(apt-get install postgresql)")


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as `postgres` then (Debian's package makes it)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as err:
        raise ClusterError("running as root needs the `postgres` system user (Debian's "
                           "postgresql package creates it): run `make system`") from err
    return "postgres"


def _give(path: Path, user: str | None) -> None:
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _init_postgres(config: Config, user: str | None) -> Path:
    """initdb once: the `lanhai` role with a generated password, scram on 127.0.0.1 only."""
    pg = config.cluster["postgres"]
    data = folder(config) / "postgres"
    if (data / "PG_VERSION").exists():
        return data
    data.mkdir(mode=0o700, exist_ok=True)
    _give(data, user)
    _give(folder(config, "pg-socket"), user)
    if user:
        for parent in data.parents:
            if not parent.stat().st_mode & 0o001:
                raise ClusterError(f"the {user} user cannot reach {data}: {parent} is not "
                                   "searchable by others (chmod o+x it, or choose another "
                                   "LANHAI_DATA_DIR)")
    pwfile = folder(config) / ".initdb-password"
    pwfile.write_text(metastore_password(config), encoding="utf-8")
    _give(pwfile, user)
    try:
        kwargs = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} \
            if user else {}
        proc = subprocess.run(
            [pg_bin("initdb"), "-D", str(data), "-U", pg["user"], f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, cwd=folder(config), check=False, **kwargs)
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode:
        raise ClusterError(f"initdb failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return data


def _pg_connect(config: Config, dbname: str = "postgres"):
    import psycopg2

    pg = config.cluster["postgres"]
    return psycopg2.connect(host=config.cluster["host"], port=pg["port"], user=pg["user"],
                            password=metastore_password(config), dbname=dbname,
                            connect_timeout=5)


def _pg_ready(config: Config) -> bool:
    try:
        _pg_connect(config).close()
        return True
    except Exception:  # noqa: BLE001 - not accepting connections yet
        return False


def _create_databases(config: Config) -> None:
    pg = config.cluster["postgres"]
    conn = _pg_connect(config)
    conn.autocommit = True
    with conn.cursor() as cur:
        for db in (pg["metastore_db"], pg["airflow_db"]):
            cur.execute("select 1 from pg_database where datname = %s", (db,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{db}"')
    conn.close()


_SCHEMA_TABLES = ("VERSION", "DBS", "TBLS", "SDS", "TABLE_PARAMS", "PARTITIONS", "FUNCS")


def metastore_exists(config: Config) -> bool:
    """Whether the metastore's schema was made (the tables every kind of object needs)."""
    conn = _pg_connect(config, config.cluster["postgres"]["metastore_db"])
    with conn, conn.cursor() as cur:
        cur.execute("select " + " and ".join(
            f"""to_regclass('public."{t}"') is not null""" for t in _SCHEMA_TABLES))
        made = cur.fetchone()[0]
    conn.close()
    return bool(made)


def metastore_settings(config: Config) -> dict[str, str]:
    """The Hive metastore's JDO settings (Hive's own defaults for the identifier factory and
    value strategy, so the schema is the one Hive's tools would make)."""
    pg = _cluster(config)["postgres"]
    return {
        "javax.jdo.option.ConnectionURL":
            f"jdbc:postgresql://{config.cluster['host']}:{pg['port']}/{pg['metastore_db']}",
        "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "javax.jdo.option.ConnectionUserName": pg["user"],
        "javax.jdo.option.ConnectionPassword": metastore_password(config),
        "datanucleus.schema.autoCreateAll": "false",   # made once by init_metastore
        "datanucleus.identifierFactory": "datanucleus1",
        "datanucleus.rdbms.useLegacyNativeValueStrategy": "true",
        "hive.metastore.schema.verification": "false",
    }


def hive_conf_dir(config: Config) -> Path:
    """A folder holding hive-site.xml (mode 0600: it has the metastore's password), put on the
    driver's class path: the password never appears in a command line or in profiles.yml."""
    from xml.sax.saxutils import escape

    conf_dir = folder(config, "hive-conf")
    conf_dir.chmod(0o700)
    props = "".join(f"  <property><name>{escape(k)}</name><value>{escape(v)}</value>"
                    f"</property>\n" for k, v in metastore_settings(config).items())
    text = f'<?xml version="1.0"?>\n<configuration>\n{props}</configuration>\n'
    path = conf_dir / "hive-site.xml"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_private(path, text)
    return conf_dir


def init_metastore(config: Config) -> bool:
    """Create the Hive metastore's schema and the lake's databases once; True if it did.

    DataNucleus' SchemaTool makes every table of Hive's metastore model at once (its
    `package.jdo`, from the pip-installed Spark's hive-metastore jar). Letting Hive create
    tables on first use instead deadlocks on PostgreSQL (a schema change waits for a lock
    the same process holds) and races between processes. Then a short local Spark process
    records the schema version and creates the lake's databases.
    """
    import tempfile
    import zipfile

    from lanhai.spark import _jars

    if metastore_exists(config):
        return False
    jars = spark_home() / "jars"
    [metastore_jar] = jars.glob("hive-metastore-*.jar")
    with tempfile.TemporaryDirectory(prefix="lanhai-metastore-") as tmp:
        jdo = Path(tmp) / "package.jdo"
        jdo.write_bytes(zipfile.ZipFile(metastore_jar).read("package.jdo"))
        props = write_private(Path(tmp) / "datanucleus.properties", "".join(
            f"{k}={v}\n" for k, v in metastore_settings(config).items()))
        proc = subprocess.run(
            ["java", "-cp", f"{jars}/*:{':'.join(_jars('postgresql-'))}",
             "org.datanucleus.store.schema.SchemaTool", "-create", "-api", "JDO",
             "-props", str(props), str(jdo)], capture_output=True, text=True, cwd=tmp,
            check=False)
    if proc.returncode or "completed successfully" not in proc.stdout:
        raise ClusterError(f"creating the metastore's schema failed:\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    proc = subprocess.run([sys.executable, "-m", "lanhai.cluster", "init-metastore"],
                          env={**os.environ, "LANHAI_PROFILE": config.profile,
                               "LANHAI_DATA_DIR": str(config.data_dir)},
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ClusterError(f"creating the lake's databases failed:\n{proc.stderr[-3000:]}")
    return True


def _init_metastore_here(config: Config) -> None:
    from pyspark.sql import SparkSession

    from lanhai.spark import _active_session, spark_conf

    _active_session(config)
    conf = spark_conf(config)
    conf.update({"spark.master": "local[1]", "spark.app.name": "lanhai-init-metastore"})
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    for layer in config.raw["databases"]:
        spark.sql(f"create database if not exists {config.db(layer)}")
    spark.stop()


# --- Spark standalone -------------------------------------------------------------------------
def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _spark_env(config: Config) -> dict[str, str]:
    return {"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": config.cluster["host"],
            "SPARK_LOG_DIR": str(folder(config, "logs")),
            "SPARK_WORKER_DIR": str(folder(config, "spark-work")),
            "SPARK_NO_DAEMONIZE": "1", "PYSPARK_PYTHON": sys.executable,
            "SPARK_DAEMON_JAVA_OPTS": f"-Dlog4j2.configurationFile="
                                      f"{PROJECT_ROOT / 'conf' / 'log4j2.properties'}"}


def master_url(config: Config) -> str:
    return f"spark://{config.cluster['host']}:{config.cluster['spark']['master_port']}"


def _spark_services(config: Config) -> list[Service]:
    sp, host = config.cluster["spark"], config.cluster["host"]
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = _spark_env(config)
    master = Service(
        "spark-master",
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", host,
         "--port", str(sp["master_port"]), "--webui-port", str(sp["master_ui_port"])],
        # no REST submission server: applications come through the master's RPC port only
        {**env, "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"},
        ready=lambda: _port_open(sp["master_port"], host))
    workers = []
    for i in range(int(sp["workers"])):
        ui = int(sp["worker_ui_port"]) + i
        work = folder(config, f"spark-work/worker-{i + 1}")
        workers.append(Service(
            f"spark-worker-{i + 1}",
            [spark_class, "org.apache.spark.deploy.worker.Worker", master_url(config),
             "--host", host, "--cores", str(sp["worker_cores"]), "--memory",
             str(sp["worker_memory"]), "--webui-port", str(ui), "--work-dir", str(work)],
            env, ready=lambda ui=ui: _port_open(ui, host)))
    return [master, *workers]


def workers_alive(config: Config) -> int:
    """How many workers the master lists as ALIVE (its JSON status page)."""
    import json
    import urllib.request

    url = f"http://{config.cluster['host']}:{config.cluster['spark']['master_ui_port']}/json/"
    with urllib.request.urlopen(url, timeout=5) as resp:
        status = json.load(resp)
    return sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")


def master_status(config: Config) -> dict:
    import json
    import urllib.request

    url = f"http://{config.cluster['host']}:{config.cluster['spark']['master_ui_port']}/json/"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def listening(pids: dict[str, int]) -> list[tuple[str, str, int]]:
    """(service, address, port) of every socket the services (and their children) listen on."""
    import psutil

    owner = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            owner.update({p.pid: name for p in [proc, *proc.children(recursive=True)]})
    return sorted((owner[c.pid], c.laddr.ip, c.laddr.port)
                  for c in psutil.net_connections("inet")
                  if c.status == psutil.CONN_LISTEN and c.pid in owner)


LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1", "::1")


def still_running(pids: dict[str, int]) -> dict[str, int]:
    """The services of `pids` whose process is still alive (a zombie counts as gone)."""
    out = {}
    for name, pid in pids.items():
        stat = Path(f"/proc/{pid}/stat")
        with contextlib.suppress(FileNotFoundError):
            if stat.read_text().split(") ")[1][0] != "Z":
                out[name] = pid
    return out


# --- up and down ------------------------------------------------------------------------------
def up(config: Config, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Start PostgreSQL (initdb once), the metastore schema (once), the Spark master and
    workers; return {service: pid}. Services already running are left as they are."""
    _cluster(config)
    ensure_pii_key(config)
    already = running(config)
    pg = config.cluster["postgres"]
    user = _pg_user()
    if PG_SERVICE not in already:
        if _port_open(pg["port"]):
            raise ClusterError(f"port {pg['port']} on 127.0.0.1 is taken by another process: "
                               "set cluster.postgres.port in the profile")
        data = _init_postgres(config, user)
        sock = folder(config, "pg-socket")
        progress(f"PostgreSQL on 127.0.0.1:{pg['port']} ({data})")
        _start(config, Service(
            PG_SERVICE,
            [pg_bin("postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
             "-p", str(pg["port"]), "-k", str(sock)],
            user=user, ready=lambda: _pg_ready(config)), timeout=60)
    _create_databases(config)
    if init_metastore(config):
        progress("created the Hive metastore's schema in PostgreSQL")
    for service in _spark_services(config):
        if service.name in already:
            continue
        progress(f"{service.name}")
        _start(config, service, timeout=90)
    deadline = time.monotonic() + 60
    want = int(config.cluster["spark"]["workers"])
    while workers_alive(config) < want:
        if time.monotonic() > deadline:
            raise ClusterError(f"the master lists {workers_alive(config)} of {want} workers "
                               f"after 60 s; see {folder(config, 'logs')}")
        time.sleep(1)
    return running(config)


def down(config: Config) -> list[int]:
    """Stop every service of the profile by PID: Airflow's first, then Spark's, then
    PostgreSQL (the others write to it)."""
    from lanhai import airflow_env

    stopped = airflow_env.down(config)
    order = sorted(running(config) | {p.stem: 0 for p in folder(config, "pids").glob("*.pid")},
                   key=lambda n: (n == PG_SERVICE, n == "spark-master", n))
    for name in order:
        pid = stop(config, name)
        if pid:
            stopped.append(pid)
    return stopped


def main(argv: list[str] | None = None) -> None:
    """`python -m lanhai.cluster init-metastore` (used by `up`)."""
    from lanhai.config import load_config

    args = argv if argv is not None else sys.argv[1:]
    if args != ["init-metastore"]:
        raise SystemExit("usage: python -m lanhai.cluster init-metastore")
    _init_metastore_here(load_config())


if __name__ == "__main__":
    main()
