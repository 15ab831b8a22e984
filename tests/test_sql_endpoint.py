"""The analysts' SQL endpoint (lanhai.sql_endpoint): its settings, logins and, on the small
lake, the read-only guard that the Thrift server runs after every statement's analysis.

The endpoint itself (the Thrift server on the cluster, logins with Beeline, every mart's rows
against the fast path) is started by tests/test_cluster.py (`make test-cluster`)."""

from __future__ import annotations

import hashlib

import pytest

from lanhai.config import load_config


@pytest.fixture
def cluster_config(monkeypatch, tmp_path):
    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANHAI_PII_KEY", "k" * 64)
    return load_config("cluster")


def test_the_embedded_profile_has_no_endpoint_and_says_what_to_use(config):
    from lanhai.sql_endpoint import EndpointError, settings

    with pytest.raises(EndpointError, match="lanhai sql"):
        settings(config)


def test_the_server_binds_loopback_logs_in_by_password_and_guards_the_marts(cluster_config):
    from lanhai.sql_endpoint import hive_conf, jdbc_url, server_conf

    hive = hive_conf(cluster_config)
    assert hive["hive.server2.thrift.bind.host"] == "127.0.0.1"
    assert hive["hive.server2.authentication"] == "CUSTOM"
    assert hive["hive.server2.custom.authentication.class"] == "lanhai.sql.PasswordFile"
    conf = server_conf(cluster_config)
    assert conf["spark.sql.extensions"].split(",")[-1] == "lanhai.sql.ReadOnlyGuard"
    assert conf["spark.lanhai.sql.readable"] == cluster_config.db("marts")
    assert conf["spark.sql.runSQLOnFiles"] == "false"
    assert conf["spark.master"].startswith("spark://127.0.0.1:")
    assert jdbc_url(cluster_config) == "jdbc:hive2://127.0.0.1:10000/marts"


def test_beelines_echoed_prompt_is_not_part_of_the_rows():
    """Beeline printed its prompt in front of the header of a large mart's CSV (the cluster
    test, session 17): the header and the rows are what follows it."""
    from lanhai.sql_endpoint import without_prompt

    out = ("0: jdbc:hive2://127.0.0.1:10100/marts> iso_week_label,user_id\n"
           "2025-W25,U000001\n2025-W25,U000002\n")
    assert without_prompt(out) == "iso_week_label,user_id\n2025-W25,U000001\n2025-W25,U000002\n"
    plain = "kpi,value\ngmv,1.5\n"
    assert without_prompt(plain) == plain
    assert without_prompt("0: jdbc:hive2://h:1/marts> 0: jdbc:hive2://h:1/marts> a\n") == "a\n"



def test_beelines_csv_keeps_a_value_with_a_comma_whole():
    """csv2 with quoting "disabled" wraps such a value in NULs (seen on kpi_catalogue's
    "Pilot category GMV growth, year on year" in the cluster test, session 17)."""
    from lanhai.sql_endpoint import csv_rows

    out = "kpi,name_en\npilot_gmv_yoy_growth,\0Pilot category GMV growth, year on year\0\n"
    assert csv_rows(out) == [["kpi", "name_en"],
                             ["pilot_gmv_yoy_growth", "Pilot category GMV growth, year on year"]]


def test_a_login_is_a_pbkdf2_hash_in_an_owner_only_file(cluster_config):
    from lanhai.sql_endpoint import EndpointError, add_user, hash_line, password, users_file

    first = add_user(cluster_config, "analyst")
    add_user(cluster_config, "finance_bi")
    again = add_user(cluster_config, "analyst")          # a new password, one line still
    assert first == again
    secret = password(cluster_config, "analyst")
    lines = users_file(cluster_config).read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["finance_bi", "analyst"]
    assert secret not in users_file(cluster_config).read_text()
    name, rounds, salt, digest = lines[1].split(":")
    assert digest == hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt),
                                         int(rounds)).hex()
    assert hash_line("a1", "pw", b"salt") == hash_line("a1", "pw", b"salt") != \
        hash_line("a1", "pw2", b"salt")
    for path in (users_file(cluster_config), again):
        assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(EndpointError, match="user name"):
        add_user(cluster_config, "x:y")


def _guard(spark, statement: str, readable: str, path_reads: bool = False) -> None:
    """Analyse a statement without running it and check it as the endpoint does (whose
    sessions have reads by path off)."""
    saved = spark.conf.get("spark.sql.runSQLOnFiles")
    spark.conf.set("spark.sql.runSQLOnFiles", str(path_reads).lower())
    try:
        state = spark._jsparkSession.sessionState()
        plan = state.analyzer().execute(state.sqlParser().parsePlan(statement))
        spark._jvm.lanhai.sql.ReadOnlyGuard.check(spark._jsparkSession, plan, readable)
    finally:
        spark.conf.set("spark.sql.runSQLOnFiles", saved)


@pytest.mark.integration
@pytest.mark.parametrize(("statement", "refused"), [
    ("select * from {marts}.kpi_gmv_weekly where scope_type = 'all'", None),
    ("with w as (select * from {marts}.fct_orders) select count(*) from w "
     "join {marts}.dim_users u using (user_id)", None),
    ("select * from {marts}.kpi_gmv_weekly version as of 0", None),
    ("select * from {bronze}.users", "bronze.users is not readable"),
    ("select * from {silver}.orders", "silver.orders is not readable"),
    ("select * from {quarantine}.records", "quarantine.records is not readable"),
    ("select * from {marts}.fct_orders where user_id in (select user_id from {silver}.users)",
     "silver.users is not readable"),
    ("insert into {marts}.festivals select * from {marts}.festivals", "read-only"),
    ("delete from {marts}.festivals", "read-only"),
    ("update {marts}.festivals set festival_code = 'x'", "read-only"),
    ("merge into {marts}.festivals t using {marts}.festivals s "
     "on t.festival_date = s.festival_date when matched then delete", "read-only"),
    ("select reflect('java.lang.System', 'getenv', 'HOME')", "Java methods"),
])
def test_the_guard_reads_the_marts_only(built, spark, config, statement, refused):
    sql = statement.format(**{layer: config.db(layer) for layer in
                              ("marts", "bronze", "silver", "quarantine")})
    if refused is None:
        _guard(spark, sql, config.db("marts"))
        with pytest.raises(Exception, match="runSQLOnFiles is on"):   # a session turning it on
            _guard(spark, sql, config.db("marts"), path_reads=True)
        return
    with pytest.raises(Exception, match=refused) as err:
        _guard(spark, sql, config.db("marts"))
    assert "SecurityException" in str(err.value)
    _guard(spark, "select 1", config.db("marts"))                  # nothing read: allowed
    if "is not readable" in refused:                                # the engineers' own list
        _guard(spark, sql, ",".join(config.db(d) for d in config.raw["databases"]))
