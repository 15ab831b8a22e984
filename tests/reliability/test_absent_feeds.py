"""A feed that has never sent a record gives empty tables, not missing ones (issue 16).

A marketplace with no refunds yet made `dbt build` fail on the missing source table. Now
bronze and silver create an absent feed's tables empty, with exactly the columns and types a
populated lake has (compared with the session's small lake), so that the gate passes and the
marts build empty; a first file arriving later is loaded into them as usual.

Landing zone: refunds and orders have no folder (order_items comes from orders); users has a
folder holding only an upload in progress (a hidden name)."""

from __future__ import annotations

import pytest
from reliability_lake import scratch_lake

pytestmark = pytest.mark.integration

ENTITIES = ["users", "orders", "refunds"]
TABLES = [("bronze", e) for e in ENTITIES] + [("silver", e) for e in ENTITIES] + [
    ("silver", "order_items"), ("silver", "users_history")]
REFUND = ('{"refund_id": "R1", "order_id": "O-NOT-YET", "currency": "CNY", "amount": "12.50", '
          '"refunded_at": "2024-02-03T10:00:00+08:00", '
          '"updated_at": "2024-02-03T10:00:00+08:00"}\n')


def _columns(spark, table: str) -> list[tuple[str, str]]:
    """Names and types (in name order: MERGE and dbt address columns by name)."""
    return sorted((f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields)


@pytest.fixture(scope="module")
def absent(spark, config, small_lake, tmp_path_factory):
    from lanhai.jobs.ingest import run_job

    root = tmp_path_factory.mktemp("absent-feeds")
    with scratch_lake(spark, config, root, "absent") as own:
        users = own.landing / "user" / "users" / "dt=2024-02-01"
        users.mkdir(parents=True)
        (users / ".part-00000.csv.uploading").write_text("user_id\n", encoding="utf-8")
        first = run_job("ingest", own, ENTITIES)
        columns = {t: _columns(spark, own.table(*t)) for t in TABLES}
        rows = {t: spark.table(own.table(*t)).count() for t in TABLES}
        second = run_job("ingest", own, ENTITIES)
        refunds = own.landing / "transaction" / "refunds" / "dt=2024-02-03"
        refunds.mkdir(parents=True)
        (refunds / "part-00000.jsonl").write_text(REFUND, encoding="utf-8")
        third = run_job("ingest", own, ["refunds"])
        loaded = spark.table(own.table("silver", "refunds")).select(
            "refund_id", "amount").collect()
        yield {"first": first, "second": second, "third": third, "columns": columns,
               "rows": rows, "loaded": loaded,
               "populated": {t: _columns(spark, config.table(*t)) for t in TABLES}}


def test_every_table_of_an_absent_feed_exists_with_a_populated_tables_columns(absent):
    for t in TABLES:
        assert absent["columns"][t] == absent["populated"][t], t


def test_the_absent_feeds_tables_are_empty(absent):
    assert absent["rows"] == {t: 0 for t in TABLES}


def test_the_empty_tables_are_created_once_and_said_so(absent):
    made = {(layer, r["entity"]) for layer in ("bronze", "silver")
            for r in absent["first"][layer] if r.get("created_empty")}
    assert made == {(layer, e) for layer in ("bronze", "silver") for e in ENTITIES}
    assert not any(r.get("created_empty") for layer in ("bronze", "silver")
                   for r in absent["second"][layer])


def test_a_first_file_later_loads_into_the_empty_table(absent):
    [silver] = absent["third"]["silver"]
    assert silver["inserted"] == 1 and silver["late_references"] == 1
    assert [(r.refund_id, str(r.amount)) for r in absent["loaded"]] == [("R1", "12.50")]
