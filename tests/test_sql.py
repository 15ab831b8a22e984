"""`lanhai sql`: the JVM-free fast path (DuckDB over the marts' Delta files) returns what Spark
returns for every mart, pins one version of each table per session, sees the marts only, and
the command prints tables, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fast(built, config):
    from lanhai.sql import FastPath

    with FastPath(config) as session:
        yield session


def _rows(table: pa.Table) -> list[tuple]:
    """Rows in a comparable form: timestamps as UTC instants, sorted."""
    def norm(v):
        if isinstance(v, datetime):
            return v.astimezone(UTC) if v.tzinfo else v
        return v
    out = [tuple(norm(v) for v in r.values()) for r in table.to_pylist()]
    return sorted(out, key=repr)


def _marts(spark, config) -> set[str]:
    return {t.name for t in spark.catalog.listTables(config.db("marts"))
            if not t.isTemporary and t.tableType != "VIEW"}


def test_the_fast_path_pins_every_mart_at_its_current_version(fast, spark, config):
    assert set(fast.tables()) == _marts(spark, config)
    for table, version in fast.versions.items():
        current = spark.sql(f"describe history {config.db('marts')}.{table} limit 1").first()
        assert version == current.version, table


def test_both_engines_return_the_same_rows_for_every_mart(fast, spark, config):
    for table in fast.tables():
        duck = fast.query(f"select * from {table}")
        jvm = spark.sql(f"select * from {config.db('marts')}.{table}").toArrow()
        assert duck.column_names == jvm.column_names, table
        assert duck.num_rows == jvm.num_rows > 0, table
        assert _rows(duck) == _rows(jvm), table


def test_a_kpi_query_gives_the_same_answer_on_both_engines(fast, spark, config):
    sql = ("select iso_week_label, sum(gmv_cny) as gmv, sum(paid_orders) as orders "
           "from marts.kpi_gmv_weekly where scope_type = 'city_tier' "
           "group by iso_week_label order by iso_week_label")
    duck = fast.query(sql).to_pylist()
    assert duck == spark.sql(sql).toArrow().to_pylist()
    assert len(duck) > 70


def test_a_session_reads_the_versions_it_pinned_until_refreshed(built, spark, config):
    from dataclasses import replace

    from lanhai.sql import FastPath

    spark.sql("drop database if exists sql_scratch cascade")
    spark.sql("create database sql_scratch")
    try:
        spark.sql("create table sql_scratch.t using delta as select 1 as x")
        scratch = replace(config, raw={**config.raw, "databases": {
            **config.raw["databases"], "marts": "sql_scratch"}})
        with FastPath(scratch) as session:
            assert session.versions == {"t": 0}
            spark.sql("insert into sql_scratch.t values (2)")
            assert session.query("select count(*) as n from t").to_pylist() == [{"n": 1}]
            assert session.refresh() == {"t": 1}
            assert session.query("select sum(x) as s from t").to_pylist() == [{"s": 3}]
    finally:
        spark.sql("drop database if exists sql_scratch cascade")


def test_the_fast_path_sees_the_marts_only(fast):
    import duckdb

    for table in ("bronze.users", "silver.orders", "quarantine.orders"):
        with pytest.raises(duckdb.CatalogException):
            fast.query(f"select * from {table}")


def test_the_command_prints_csv_json_and_a_table(built, spark, config, capsys):
    from typer.testing import CliRunner

    from lanhai.cli import app

    sql = ("select iso_week_label, gmv_cny from kpi_gmv_weekly where scope_type = 'all' "
           "order by iso_week_label")
    expected = spark.sql(sql.replace("kpi_gmv", "marts.kpi_gmv")).collect()
    runner = CliRunner()
    out = runner.invoke(app, ["sql", sql, "--format", "csv"])
    assert out.exit_code == 0, out.output
    got = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["iso_week_label"], r["gmv_cny"]) for r in got] == \
        [(r.iso_week_label, str(r.gmv_cny)) for r in expected]
    out = runner.invoke(app, ["sql", sql + " limit 2", "--format", "json"])
    assert [json.loads(line) for line in out.stdout.splitlines()] == \
        [{"iso_week_label": r.iso_week_label, "gmv_cny": str(r.gmv_cny)} for r in expected[:2]]
    out = runner.invoke(app, ["sql", "select * from no_such_mart"])
    assert out.exit_code == 1 and "no_such_mart" in out.output
    session = ".tables\nselect count(*) as n\n  from kpi_gmv_weekly;\n.quit\n"
    out = runner.invoke(app, ["sql"], input=session)
    assert out.exit_code == 0, out.output
    assert "kpi_gmv_weekly" in out.stdout and "1 row(s)" in out.stdout


def test_the_kpi_reference_is_generated_from_the_targets_file():
    from lanhai.kpi_docs import KPI_DOCS, kpi_docs_text

    assert KPI_DOCS.read_text(encoding="utf-8") == kpi_docs_text(), (
        "run `lanhai dbt-sources`: docs/kpis.md is out of date with conf/targets.yaml")


def test_every_kpis_example_query_answers_on_the_fast_path(fast):
    from lanhai.dbt import load_targets
    from lanhai.kpi_docs import examples

    queries = examples()
    assert set(queries) == set(load_targets()["kpis"])
    for kpi, sql in queries.items():
        rows = fast.query(sql).to_pylist()
        assert rows, f"the example query of {kpi} returns nothing"
        assert any(r["value"] is not None for r in rows), kpi
