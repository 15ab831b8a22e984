"""The Great Expectations gate fails on a critical defect that passes the contracts (orders
whose user is still unknown after the grace period, a day whose order volume collapses), with a
message naming the table, the rule and the rows. (Clean silver passing the gate, its results
and Data Docs are checked on the Airflow chain: tests/test_airflow_chain.py.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from lanhai.quality.gate import QualityGateFailed, run_gate, settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def interval(small_lake):
    last = date.fromisoformat(small_lake["last_day"])
    return last - timedelta(days=20), last


@pytest.fixture(scope="module")
def scratch(spark, config):
    """A config whose silver and audit are shallow clones in their own databases, so that a
    defect injected there never reaches the session's lake."""
    for db in ("gate_silver", "gate_audit"):  # a clone cannot replace a non-empty table
        spark.sql(f"drop database if exists {db} cascade")
        spark.sql(f"create database {db}")
    for t in ("orders", "users"):
        spark.sql(f"create table gate_silver.{t} shallow clone "
                  f"{config.table('silver', t)}")
    dbs = {**config.raw["databases"], "silver": "gate_silver", "audit": "gate_audit"}
    yield replace(config, raw={**config.raw, "databases": dbs})
    for db in ("gate_silver", "gate_audit"):
        spark.sql(f"drop database if exists {db} cascade")


def test_orders_of_users_unknown_after_the_grace_period_stop_the_gate(spark, scratch, config,
                                                                      interval):
    start, end = interval
    created = end - timedelta(days=settings(config)["late_reference_grace_days"] + 3)
    spark.sql(f"""
        insert into gate_silver.orders (order_id, user_id, merchant_id, channel, currency,
            status, event_id, event_type, created_at, paid_at, updated_at)
        select concat('O-GHOST-', id), concat('U-GHOST-', id), 'M000001', 'search', 'CNY',
               'paid', concat('E-GHOST-', id), 'paid', timestamp '{created} 10:00:00',
               timestamp '{created} 10:05:00', timestamp '{created} 10:05:00'
        from range(3)""")
    with pytest.raises(QualityGateFailed) as err:
        run_gate(spark, scratch, start, end, entities=["orders"])
    message = str(err.value)
    assert "silver.orders" in message
    assert "user known within" in message and "(3 rows)" in message


def test_a_day_whose_order_volume_collapses_stops_the_gate(spark, scratch, interval):
    start, end = interval
    day = end - timedelta(days=5)
    spark.sql(f"delete from gate_silver.orders where to_date(coalesce(paid_at, created_at)) = "
              f"date '{day}' and order_id not like 'O-GHOST-%'")
    with pytest.raises(QualityGateFailed) as err:
        run_gate(spark, scratch, start, end, entities=["orders"])
    assert "daily order volume" in str(err.value)
    failed = spark.sql("select rule, severity from gate_audit.quality_results where not success"
                       ).collect()
    assert any(r.severity == "critical" and "daily order volume" in r.rule for r in failed)


def test_a_day_without_any_order_stops_the_gate(spark, scratch, interval):
    """A missing file leaves no row at all for its day: the volume is judged per day."""
    start, end = interval
    day = end - timedelta(days=3)
    spark.sql(f"delete from gate_silver.orders where to_date(coalesce(paid_at, created_at)) = "
              f"date '{day}'")
    with pytest.raises(QualityGateFailed) as err:
        run_gate(spark, scratch, start, end, entities=["orders"])
    import re

    found = re.search(r"silver\.orders: daily order volume .*\((\d+) rows\)", str(err.value))
    assert found and int(found.group(1)) >= 1, str(err.value)
