"""Build the one SparkSession of a process: Delta, the project's catalog, offline jars."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lanhai.config import PROJECT_ROOT, Config

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

JARS_DIR = PROJECT_ROOT / ".jars"
_lock_handle = None  # the open lock file of this process, held until the process exits


class CatalogBusyError(RuntimeError):
    """Another process holds the embedded catalog for longer than the timeout."""


def _jars(prefix: str) -> list[str]:
    jars = sorted(str(p) for p in JARS_DIR.glob(f"{prefix}*.jar"))
    if not jars:
        raise FileNotFoundError(
            f"no {prefix}* jar in {JARS_DIR}: run `make jars` (set-up fetches them with Maven)"
        )
    return jars


def delta_jars() -> list[str]:
    """Return the Delta jars fetched at set-up; fail clearly when set-up has not run."""
    return _jars("delta-")


def acquire_catalog_lock(config: Config, timeout: float | None = None) -> None:
    """Hold the embedded catalog for this process; wait (and say for whom) while it is busy.

    Embedded Derby admits one JVM at a time: without this lock a second process fails after
    Hive's retries with XSDB6, or wins a race. The lock is released when the process exits.
    """
    global _lock_handle  # noqa: PLW0603 - one lock per process, held until it exits
    if _lock_handle is not None:
        return
    catalog_dir = config.path("catalog")
    catalog_dir.mkdir(parents=True, exist_ok=True)
    lock_path = catalog_dir / ".lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 - kept open for the process's lifetime
    limit = config.catalog.get("lock_timeout_seconds", 3600) if timeout is None else timeout
    deadline = time.monotonic() + limit
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = Path(lock_path).read_text(encoding="utf-8").strip() or "another process"
            if time.monotonic() > deadline:
                handle.close()
                raise CatalogBusyError(
                    f"the catalog {catalog_dir} is held by {holder} for more than {limit:.0f} s; "
                    "the embedded profile admits one Spark process at a time"
                ) from None
            if not told:
                print(f"waiting for the catalog {catalog_dir}: held by {holder}", flush=True)
                told = True
            time.sleep(1.0)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} ({' '.join(os.sys.argv[:3])})\n")
    handle.flush()
    _lock_handle = handle


def catalog_conf(config: Config) -> dict[str, str]:
    """The Hive metastore's settings: embedded Derby under the catalog folder, or the cluster's
    PostgreSQL (the JDBC driver on the driver's class path; the schema made at cluster-up)."""
    if config.catalog["kind"] == "embedded":
        return {"spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={config.path('catalog') / 'metastore_db'};create=true"}
    from lanhai.cluster import hive_conf_dir

    # hive-site.xml (0600) on the driver's class path holds the connection and its password
    return {"spark.driver.extraClassPath":
            ":".join([str(hive_conf_dir(config)), *_jars("postgresql-")])}


def spark_conf(config: Config) -> dict[str, str]:
    """Return the Spark settings of a profile (also used for dbt's server_side_parameters)."""
    spark = config.spark
    catalog_dir = config.path("catalog")
    lake = config.lake
    embedded = config.catalog["kind"] == "embedded"
    java_opts = " ".join(
        [
            spark.get("java_options") or "",
            f"-Dderby.system.home={catalog_dir}" if embedded else "",
            f"-Duser.timezone={spark['timezone']}",
            f"-Dlog4j2.configurationFile={PROJECT_ROOT / 'conf' / 'log4j2.properties'}",
        ]
    ).split()
    conf = {
        "spark.master": spark["master"],
        "spark.app.name": spark.get("app_name", "lanhai"),
        "spark.driver.memory": spark["driver_memory"],
        "spark.driver.extraJavaOptions": " ".join(java_opts),
        # the driver's JVM tuning is the driver's; an executor gets the profile's own
        "spark.executor.extraJavaOptions": " ".join(
            [*(o for o in java_opts if "XX:" not in o),
             *(spark.get("executor_java_options") or "").split()]),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.jars": ",".join(delta_jars()),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(lake),
        **catalog_conf(config),
        "spark.sql.session.timeZone": spark["timezone"],
        "spark.sql.shuffle.partitions": str(spark["shuffle_partitions"]),
        "spark.ui.enabled": str(spark.get("ui", False)).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # No string value in Delta's log: per-file min/max statistics of strings (ids, tokens,
        # raw text) would outlive an erasure in `_delta_log` (lanhai.erasure). One character
        # is kept (the max gets Delta's tie-breaker), not none: with 0, Delta writes an empty
        # min and no max, and delta-rs (the `lanhai sql` fast path) then prunes every file for
        # any string predicate. Numbers, dates and timestamps keep theirs in full.
        "spark.databricks.io.skipping.stringPrefixLength": "1",
        # Few small files per table at local scale; avoids thousands of tiny Parquet files.
        "spark.databricks.delta.optimizeWrite.enabled": "true",
        # ...but not one file per write: a reader splits a Parquet file no finer than its row
        # group (128 MB), so bronze orders written whole at `medium` (one 105 MB file) were
        # read by one task on two cores (silver orders 115 -> 95 s with 9 files of ~12 MB).
        "spark.databricks.delta.optimizeWrite.binSize": "32",
    }
    # the project's own classes (lanhai.sql_endpoint's login and guard) on the driver's class
    # path: the SQL endpoint loads them, and tests call the guard through py4j
    conf["spark.driver.extraClassPath"] = ":".join(
        p for p in (conf.get("spark.driver.extraClassPath"), *_jars("lanhai-sql")) if p)
    conf.update({k: str(v) for k, v in spark.get("extra", {}).items()})
    return conf


def _active_session(config: Config):
    """Prepare this process for Spark (loopback, this Python, the lake's clock) and return the
    session it already has, if any."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    # Python turns Spark timestamps into local datetimes: keep its clock on the lake's zone.
    os.environ["TZ"] = config.spark["timezone"]
    time.tzset()
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def get_spark(config: Config) -> SparkSession:
    """Return this process's SparkSession, creating it (and taking the catalog) once."""
    active = _active_session(config)
    if active is not None:
        return active
    from pyspark.sql import SparkSession

    if config.catalog["kind"] == "embedded":
        acquire_catalog_lock(config)
    config.lake.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in spark_conf(config).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for layer in config.raw["databases"]:
        if not spark.catalog.databaseExists(config.db(layer)):
            spark.sql(f"create database {config.db(layer)}")
    return spark


def get_reader_spark(config: Config, driver_memory: str = "1g") -> SparkSession:
    """A read-only session for analysts and reports that never opens the embedded catalog.

    It keeps an in-memory catalog of its own and registers every Delta table of the lake under
    the same names (`marts.kpi_gmv_weekly`, `silver.orders`, ...) as external tables over the
    same folders. It takes no lock, so a notebook can stay open while the jobs, dbt and Airflow
    run: Delta gives each query a consistent snapshot. dbt's views (staging, intermediate) live
    only in the metastore and are not available here; query the marts.
    """
    if config.catalog["kind"] != "embedded":  # a shared catalog: readers open it like jobs
        return get_spark(config)
    active = _active_session(config)
    if active is not None:
        return active
    from pyspark.sql import SparkSession

    conf = {k: v for k, v in spark_conf(config).items() if k not in catalog_conf(config)}
    conf["spark.sql.catalogImplementation"] = "in-memory"
    conf["spark.driver.memory"] = driver_memory
    conf["spark.app.name"] = f"{conf['spark.app.name']}-reader"
    conf["spark.driver.extraJavaOptions"] = " ".join(
        o for o in conf["spark.driver.extraJavaOptions"].split() if "derby" not in o)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    register_lake_tables(spark, config)
    return spark


def register_lake_tables(spark: SparkSession, config: Config) -> list[str]:
    """Name every Delta table under the lake folder in this session's (in-memory) catalog."""
    names = []
    for db_dir in sorted(config.lake.glob("*.db")):
        db = db_dir.name[: -len(".db")]
        spark.sql(f"create database if not exists {db}")
        for table_dir in sorted(p for p in db_dir.iterdir() if (p / "_delta_log").is_dir()):
            name = f"{db}.{table_dir.name}"
            spark.sql(f"create table if not exists {name} using delta "
                      f"location '{table_dir.as_posix()}'")
            names.append(name)
    return names


def has_data(spark: SparkSession, table: str) -> bool:
    """Whether a Delta table exists in the catalog and has a data file."""
    return spark.catalog.tableExists(table) and \
        spark.sql(f"describe detail {table}").first()["numFiles"] > 0


def adopt_orphan(spark: SparkSession, table: str) -> bool:
    """Register a Delta table the catalog lost in a crash; return True if it did.

    Creating a Delta table is two steps: Delta's first commit in the table's folder, then the
    catalog's entry. A process killed between them leaves a folder the catalog does not know,
    and every later write to the table failed with DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION
    until someone deleted the folder by hand. Here the folder is registered as the table (over
    its location): what it committed is kept, and the batch that wrote it, replayed with the
    same `txnAppId`/`txnVersion`, is skipped by Delta, so nothing is lost or written twice. A
    folder with no commit at all (killed inside the first commit) held nothing: it is removed.
    """
    if spark.catalog.tableExists(table):
        return False
    db, name = table.split(".")
    if not spark.catalog.databaseExists(db):
        return False
    root = spark.catalog.getDatabase(db).locationUri.rstrip("/")
    jvm = spark._jvm
    folder = jvm.org.apache.hadoop.fs.Path(f"{root}/{name}")
    fs = folder.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(folder):
        return False
    log_dir = jvm.org.apache.hadoop.fs.Path(f"{root}/{name}/_delta_log")
    commits = [s.getPath().getName() for s in fs.listStatus(log_dir)] if fs.exists(log_dir) \
        else []
    if not any(n.endswith(".json") and n[:20].isdigit() for n in commits):
        fs.delete(folder, True)
        _log.warning("removed %s: a folder for table %s without a Delta commit", folder, table)
        return False
    spark.sql(f"create table {table} using delta location '{root}/{name}'")
    _log.warning("adopted %s: its folder held Delta commits the catalog did not know (a run "
                 "killed while creating it); registered over %s/%s", table, root, name)
    return True


def delta_tables(spark: SparkSession, databases: list[str] | None = None,
                 exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The Delta tables (not views) of the catalog's databases, or of those named, but the
    `db.table` names in `exclude` (never described: a DESCRIBE is a Spark job each)."""
    out = []
    for db in databases or [d.name for d in spark.catalog.listDatabases()]:
        for t in spark.catalog.listTables(db):
            name = f"{db}.{t.name}"
            if t.isTemporary or t.tableType == "VIEW" or name in exclude:
                continue
            try:
                if spark.sql(f"describe detail {name}").first()["format"] == "delta":
                    out.append(name)
            except Exception:  # noqa: BLE001, S112 - a table DESCRIBE DETAIL does not know
                continue
    return out


def ddl_of(df) -> str:
    """A DataFrame's columns as a `create table` column list (names quoted)."""
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in df.schema.fields)


# What a `create table if not exists` meets when another process creates the same table at the
# same moment (two domains' ingests creating a shared audit table on a fresh lake): Delta's
# first commit lost to the other's (a conflict, in conflicts.conflict_types), or the catalog's
# entry or the folder made by the other between this one's check and its create
CREATE_RACES = ("TABLE_OR_VIEW_ALREADY_EXISTS", "LOCATION_ALREADY_EXISTS",
                "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION")


def ensure_table(spark: SparkSession, table: str, ddl: str, attempts: int = 5,
                 wait: float = 1.0) -> None:
    """`create table if not exists` (Delta) that survives a crash of an earlier create, and a
    concurrent create of the same table by another process: the loser waits and looks again,
    and finds the winner's table (same columns: both come from the same code)."""
    from pyspark.errors import AnalysisException

    from lanhai.conflicts import conflict_types

    races = (*conflict_types(), AnalysisException)
    for attempt in range(1, attempts + 1):
        try:
            if attempt in (1, attempts):
                # a crash's orphan; not right after a race, when the other creator's folder
                # may still be without its first commit (adopt_orphan would delete it) or its
                # catalog entry (adopt_orphan would take its table over)
                adopt_orphan(spark, table)
            if attempt > 1 and spark.catalog.tableExists(table):
                return  # the other process's table
            spark.sql(f"create table if not exists {table} ({ddl}) using delta")
            return
        except races as err:
            condition = getattr(err, "getCondition", lambda: None)()
            raced = not isinstance(err, AnalysisException) or condition in CREATE_RACES \
                or "already exists" in str(err).lower()  # the metastore's own words
            if not raced or attempt == attempts:
                raise
            _log.warning("creating %s raced another process (%s); looking again (%d of %d)",
                         table, condition or type(err).__name__, attempt + 1, attempts)
            time.sleep(wait * attempt)
