"""The analysts' SQL endpoint on the cluster profile: Spark's Thrift server (HiveServer2's
protocol, what JDBC/ODBC clients and BI tools speak) on the shared catalog.

`lanhai sql-server-up` starts it as a Spark application on the cluster's master, by PID, on
127.0.0.1 (`sql_endpoint.port`); `lanhai sql-server-down` stops it. Two classes of the
project's own, compiled at set-up into `.jars/lanhai-sql.jar` (sources in `jars/src/`), make it
an analysts' endpoint:

- `lanhai.sql.PasswordFile`: HiveServer2's CUSTOM authentication against a users file of
  PBKDF2 hashes (`secrets/sql-users`, 0600). No login, no query: anonymous and wrong passwords
  are refused. `lanhai sql-user NAME` adds a user (or gives it a new password), written to
  `secrets/sql-NAME.password` (0600), never printed.
- `lanhai.sql.ReadOnlyGuard`: a Spark session extension that refuses, after analysis, any
  statement reading a table outside the readable databases (`sql_endpoint.readable`: the
  marts), any write, DDL, cache or ADD JAR, reflection and scripts. Reads by path are off
  (`spark.sql.runSQLOnFiles=false`).

On the embedded profile there is no endpoint (its catalog admits one JVM): analysts use
`lanhai sql` (DuckDB over the marts' Delta files) and the notebooks.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
from pathlib import Path

from lanhai.config import PROJECT_ROOT, Config

SERVICE = "sql-server"
JAR = PROJECT_ROOT / ".jars" / "lanhai-sql.jar"
SOURCES = PROJECT_ROOT / "jars" / "src"
SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
ITERATIONS = 120_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class EndpointError(RuntimeError):
    """The SQL endpoint cannot be started (wrong profile, set-up missing, port taken...)."""


def settings(config: Config) -> dict:
    if config.catalog["kind"] == "embedded" or not config.raw.get("sql_endpoint"):
        raise EndpointError(
            f"profile {config.profile!r} has no SQL endpoint: its embedded catalog admits one "
            "JVM at a time. Analysts use `lanhai sql` (DuckDB over the marts, no JVM) and the "
            "notebooks there; the endpoint is the cluster profile's (LANHAI_PROFILE=cluster)")
    return config.raw["sql_endpoint"]


# --- users ------------------------------------------------------------------------------------
def users_file(config: Config) -> Path:
    return config.secret_path("sql-users")


def password_file(config: Config, user: str) -> Path:
    return config.secret_path(f"sql-{user}.password")


def hash_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of the users file: `name:iterations:salt:hash` (PBKDF2-HMAC-SHA256), what
    `lanhai.sql.PasswordFile` checks a login against."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"{user}:{ITERATIONS}:{salt.hex()}:{digest.hex()}"


def add_user(config: Config, user: str, password: str | None = None) -> Path:
    """Add a login (or give it a new password); return the 0600 file holding its password."""
    from lanhai.cluster import write_private

    if not _NAME.match(user):
        raise EndpointError(f"user name {user!r}: lower-case letters, digits and _, 2-32 "
                            "characters, starting with a letter")
    password = password or secrets.token_urlsafe(18)
    path = users_file(config)
    kept = [line for line in (path.read_text(encoding="utf-8").splitlines()
                              if path.exists() else [])
            if line.strip() and line.split(":", 1)[0] != user]
    write_private(path, "\n".join([*kept, hash_line(user, password)]) + "\n")
    return write_private(password_file(config, user), password + "\n")


def password(config: Config, user: str) -> str:
    return password_file(config, user).read_text(encoding="utf-8").strip()


# --- the server -------------------------------------------------------------------------------
def build_jar(force: bool = False) -> Path:
    """Compile the endpoint's two classes against the pip-installed Spark (`make jars`)."""
    import tempfile

    from lanhai.cluster import spark_home

    sources = sorted(SOURCES.rglob("*.java"))
    if not force and JAR.exists() and all(s.stat().st_mtime <= JAR.stat().st_mtime
                                          for s in sources):
        return JAR
    with tempfile.TemporaryDirectory(prefix="lanhai-javac-") as out:
        for argv in (["javac", "-nowarn", "--release", "17", "-cp",
                      f"{spark_home() / 'jars'}/*", "-d", out, *map(str, sources)],
                     ["jar", "cf", str(JAR), "-C", out, "."]):
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode:
                raise EndpointError(f"{argv[0]} failed (a JDK is needed: `make system`):\n"
                                    f"{proc.stdout}{proc.stderr}"[-3000:])
    return JAR


def server_conf(config: Config) -> dict[str, str]:
    """The Spark settings of the endpoint's application: the profile's (Delta, the shared
    metastore, the master), the guard, and executors released when idle."""
    from lanhai.spark import delta_jars, spark_conf

    conf = spark_conf(config)
    end = settings(config)
    conf.update({
        "spark.app.name": "lanhai-sql-endpoint",
        "spark.sql.extensions": conf["spark.sql.extensions"] + ",lanhai.sql.ReadOnlyGuard",
        # on the JVM's own class path: the server's session threads do not see spark.jars
        "spark.driver.extraClassPath": ":".join(
            p for p in (conf.get("spark.driver.extraClassPath"), *delta_jars()) if p),
        "spark.lanhai.sql.readable": ",".join(config.db(d) for d in end["readable"]),
        "spark.sql.runSQLOnFiles": "false",
        # a long-running application: hold executors only while queries run
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "0",
        "spark.dynamicAllocation.executorIdleTimeout": "60s",
    })
    return conf


def hive_conf(config: Config) -> dict[str, str]:
    end = settings(config)
    return {
        "hive.server2.thrift.bind.host": config.cluster["host"],
        "hive.server2.thrift.port": str(end["port"]),
        "hive.server2.transport.mode": "binary",
        "hive.server2.authentication": "CUSTOM",
        "hive.server2.custom.authentication.class": "lanhai.sql.PasswordFile",
        "hive.server2.enable.doAs": "false",
    }


def jdbc_url(config: Config) -> str:
    return f"jdbc:hive2://{config.cluster['host']}:{settings(config)['port']}/" \
           f"{config.db('marts')}"


def connect(config: Config, user: str, secret: str):
    """A DB-API connection to the endpoint (PyHive, HiveServer2's binary protocol with the
    `CUSTOM` login): what Superset and notebooks use from Python, one connection for many
    queries (Beeline starts a JVM per call). Installed with dbt-spark's thrift method."""
    from pyhive import hive

    return hive.connect(host=config.cluster["host"], port=int(settings(config)["port"]),
                        username=user, password=secret, auth="CUSTOM",
                        database=config.db("marts"))


def up(config: Config, timeout: float = 300) -> int:
    """Start the endpoint (an `analyst` login made on first start); return its PID."""
    from lanhai import cluster
    from lanhai.cluster import Service, _port_open, _spark_env, running, spark_home

    end = settings(config)
    if SERVICE in running(config):
        return running(config)[SERVICE]
    if _port_open(end["port"], config.cluster["host"]):
        raise EndpointError(f"port {end['port']} on 127.0.0.1 is taken by another process: set "
                            "sql_endpoint.port in the profile")
    build_jar()
    if not users_file(config).exists():
        add_user(config, "analyst")
    argv = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    for key, value in server_conf(config).items():
        argv += ["--conf", f"{key}={value}"]
    argv.append("spark-internal")
    for key, value in hive_conf(config).items():
        argv += ["--hiveconf", f"{key}={value}"]
    env = {**_spark_env(config), "LANHAI_SQL_USERS": str(users_file(config)),
           "TZ": config.spark["timezone"]}
    return cluster._start(config, Service(
        SERVICE, argv, env, ready=lambda: _port_open(end["port"], config.cluster["host"])),
        timeout=timeout)


def down(config: Config) -> int | None:
    from lanhai.cluster import stop

    return stop(config, SERVICE)


def beeline(config: Config, user: str | None, secret: str | None, statement: str,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one statement with Beeline, the JDBC client that ships with Spark (`bin/beeline`):
    CSV on stdout, the error on stderr, exit code non-zero on failure. The password goes in
    a 0600 file (`-w`), never on the command line."""
    import tempfile

    from lanhai.cluster import _spark_env, spark_home, write_private

    argv = [str(spark_home() / "bin" / "beeline"), "-u", jdbc_url(config),
            "--outputformat=csv2", "--silent=true", "--showHeader=true",
            "--incremental=true", "-e", statement]  # incremental: rows stream, not buffered
    with tempfile.TemporaryDirectory(prefix="lanhai-beeline-") as tmp:
        if user is not None:
            argv[3:3] = ["-n", user]
        if secret is not None:
            argv[3:3] = ["-w", str(write_private(Path(tmp) / "password", secret))]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **_spark_env(config)}, check=False)
    proc.stdout = without_prompt(proc.stdout)
    return proc


# Beeline can print its prompt (`0: jdbc:hive2://host:port/db> `) in front of the header line,
# even with --silent=true (seen on a 470k-row mart): the rows are the CSV after it.
PROMPT = re.compile(r"^(?:\d+: jdbc:hive2://[^\n>]*> ?)+", re.MULTILINE)


def without_prompt(text: str) -> str:
    """Beeline's CSV output without the prompts it echoed at the start of a line."""
    return PROMPT.sub("", text)


def csv_rows(text: str) -> list[list[str]]:
    """Beeline's `csv2` output (`beeline()`'s stdout, prompts already stripped) as rows.
    Beeline writes CSV with quoting "disabled", which still wraps a value holding a comma in
    NUL characters (`\\0a, b\\0`): NUL is the quote."""
    import csv
    import io

    return list(csv.reader(io.StringIO(text), quotechar="\0"))
