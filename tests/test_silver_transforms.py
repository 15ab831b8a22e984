"""Unit tests of the bronze -> silver transforms, on inline rows."""

import datetime as dt
from decimal import Decimal

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from lanhai.contracts import contract
from lanhai.jobs.silver import (
    check_rules,
    classify_versions,
    conform_orders,
    fx_daily,
    order_items,
    repeats_of_seen,
    typed,
)

SPEND_COLS = ("spend_id string, spend_date string, channel string, pilot_category string, "
              "amount_cny string, updated_at string, _parse_error string")



def test_rules_fire_in_contract_order(spark):
    c = contract("spend")
    rows = [
        ("S1", "2024-01-01", "search", None, "10.00", "2024-01-02T00:00:00+08:00", None),
        ("S2", "2024-01-01", "search", None, None, "2024-01-02T00:00:00+08:00", None),
        ("S3", "2024-01-01", "billboard", None, "-1", "2024-01-02T00:00:00+08:00", None),
        ("S4", "2024-01-01", "kol", "moon", "1", "2024-01-02T00:00:00+08:00", None),
        ("S5", "2024-01-01", "kol", None, "-0.01", "2024-01-02T00:00:00+08:00", None),
        ("S6", "01/01/2024", "kol", None, "1", "2024-01-02T00:00:00+08:00", None),
        ("S7", "9999-12-31", "kol", None, "1", "2024-01-02T00:00:00+08:00", None),
        ("S8", "2024-01-01", "kol", None, "1", "0001-01-01T00:00:00+08:00", None),
        (None, None, None, None, None, None, "malformed: 2 fields, header has 6"),
    ]
    got = check_rules(spark.createDataFrame(rows, SPEND_COLS), c)
    expected = spark.createDataFrame(
        [("S1", None, None), ("S2", "missing_required", "amount_cny"),
         ("S3", "unknown_enum", "channel"), ("S4", "unknown_enum", "pilot_category"),
         ("S5", "out_of_range", "amount_cny"), ("S6", "type_mismatch", "spend_date"),
         ("S7", "out_of_range", "spend_date"), ("S8", "out_of_range", "updated_at"),
         (None, "malformed", None)],
        "spend_id string, _rule string, _rule_field string")
    assertDataFrameEqual(got.select("spend_id", "_rule", "_rule_field"), expected)


def test_nested_item_rules(spark):
    c = contract("orders")
    base = {"event_id": "E", "event_type": "paid", "order_id": "O1", "user_id": "U",
            "merchant_id": "M", "channel": "kol", "currency": "CNY", "status": "paid",
            "created_at": "2024-01-01T10:00:00+08:00", "paid_at": None, "cancelled_at": None,
            "updated_at": "2024-01-01T10:00:00+08:00", "_parse_error": None}
    items = {
        "O1": '[{"line_no":1,"sku_id":"S","qty":1,"unit_price":9.90,"discount":0}]',
        "O2": '[{"line_no":1,"sku_id":"S","qty":1,"unit_price":-9.90,"discount":0}]',
        "O3": "[]",
        "O4": '[{"line_no":1,"sku_id":"S","qty":"two","unit_price":1,"discount":0}]',
    }
    rows = [{**base, "order_id": k, "items": v} for k, v in items.items()]
    schema = ", ".join(f"{n} string" for n in [*c.names, "_parse_error"])
    df = spark.createDataFrame([tuple(r[n] for n in [*c.names, "_parse_error"]) for r in rows],
                               schema)
    got = {r.order_id: r._rule for r in check_rules(df, c).collect()}
    assert got == {"O1": None, "O2": "out_of_range", "O3": "missing_required",
                   "O4": "type_mismatch"}


def test_versions_winner_duplicate_superseded(spark):
    c = contract("spend")
    rows = [
        ("A", "2024-01-02T00:00:00+08:00", "f1", 1),
        ("A", "2024-01-03T00:00:00+08:00", "f2", 1),
        ("A", "2024-01-03T00:00:00+08:00", "f2", 5),
        ("B", "2024-01-02T00:00:00+08:00", "f1", 2),
    ]
    df = spark.createDataFrame(rows, "spend_id string, updated_at string, _source_file string, "
                                     "_line int").withColumn("updated_at",
                                                             F.to_timestamp("updated_at"))
    got = classify_versions(df, c).select("spend_id", "_source_file", "_line", "_outcome")
    expected = spark.createDataFrame(
        [("A", "f1", 1, "superseded"), ("A", "f2", 1, "winner"), ("A", "f2", 5, "duplicate"),
         ("B", "f1", 2, "winner")],
        "spend_id string, _source_file string, _line int, _outcome string")
    assertDataFrameEqual(got, expected)


def test_fx_daily_carries_friday_rate_over_the_weekend(spark):
    rates = spark.createDataFrame(
        [(dt.date(2024, 1, 5), "USD", Decimal("7.100000")),
         (dt.date(2024, 1, 8), "USD", Decimal("7.200000"))],
        "rate_date date, currency string, cny_per_unit decimal(18,6)")
    got = fx_daily(rates, "2024-01-09").where("fx_date between '2024-01-06' and '2024-01-09'")
    expected = spark.createDataFrame(
        [("USD", dt.date(2024, 1, 6), Decimal("7.100000"), dt.date(2024, 1, 5)),
         ("USD", dt.date(2024, 1, 7), Decimal("7.100000"), dt.date(2024, 1, 5)),
         ("USD", dt.date(2024, 1, 8), Decimal("7.200000"), dt.date(2024, 1, 8)),
         ("USD", dt.date(2024, 1, 9), Decimal("7.200000"), dt.date(2024, 1, 8))],
        "currency string, fx_date date, fx_rate_to_cny decimal(18,6), fx_rate_date date")
    assertDataFrameEqual(got, expected)


def test_line_gmv_is_rounded_half_up_at_the_paid_date_rate(spark):
    c = contract("orders")
    fx = spark.createDataFrame(
        [("USD", dt.date(2024, 1, 6), Decimal("7.125000"), dt.date(2024, 1, 5))],
        "currency string, fx_date date, fx_rate_to_cny decimal(18,6), fx_rate_date date")
    orders = spark.createDataFrame(
        [("O1", "USD", dt.datetime(2024, 1, 5, 23, 0), dt.datetime(2024, 1, 6, 10, 0),
          dt.datetime(2024, 1, 6, 10, 0), "f", 1,
          '[{"line_no":1,"sku_id":"S","qty":3,"unit_price":0.10,"discount":0.28}]')],
        "order_id string, currency string, created_at timestamp, paid_at timestamp, "
        "updated_at timestamp, _source_file string, _line int, items string")
    orders = orders.withColumn("_items_text", F.from_json("items", "array<struct<line_no: "
                               "string, sku_id: string, qty: string, unit_price: string, "
                               "discount: string>>"))
    conformed = conform_orders(orders, fx)
    line = order_items(conformed, c).first()
    # (3 x 0.10 - 0.28) x 7.125 = 0.1425 -> 0.14; half-up matters at .xx5
    assert line.line_amount == Decimal("0.02")
    assert line.line_gmv_cny == Decimal("0.14")
    assert line.fx_rate_to_cny == Decimal("7.125000")
    two = orders.withColumn("_items_text", F.from_json(F.lit(
        '[{"line_no":1,"sku_id":"S","qty":1,"unit_price":0.02,"discount":0}]'),
        "array<struct<line_no: string, sku_id: string, qty: string, unit_price: string, "
        "discount: string>>"))
    fx2 = fx.withColumn("fx_rate_to_cny", F.lit(Decimal("7.250000")))
    assert order_items(conform_orders(two, fx2), c).first().line_gmv_cny == Decimal("0.15")


def test_typed_casts_by_contract(spark):
    c = contract("fx_rates")
    df = spark.createDataFrame(
        [("2024-01-05", "USD", "7.123456", "2024-01-05T09:15:00+08:00", "f", 1, None, 0, "r")],
        "rate_date string, currency string, cny_per_unit string, published_at string, "
        "_source_file string, _line long, _rescued_data string, _batch_id long, _run_id string")
    row = typed(df, c).first()
    assert row.rate_date == dt.date(2024, 1, 5)
    assert row.cny_per_unit == Decimal("7.123456")
    assert row.published_at == dt.datetime(2024, 1, 5, 9, 15)


def test_an_old_version_sent_again_after_a_newer_one_is_a_repeat_of_what_bronze_saw(spark):
    """A batch winner older than silver's version is a duplicate if an earlier clean bronze
    row (an earlier batch, or the same batch at an earlier file or line) had its key and
    version; otherwise it is a superseded version."""
    c = contract("spend")
    v1, v2 = "2024-01-02T00:00:00+08:00", "2024-01-03T00:00:00+08:00"
    bronze = spark.createDataFrame([
        ("S1", v1, None, 1, "a.csv", 7),        # earlier batch: S1 was seen
        ("S2", v1, None, 3, "c.csv", 2),        # a later batch: not seen yet
        ("S3", v2, None, 1, "a.csv", 8),        # another version of S3
        ("S4", v1, None, 2, "b.csv", 1),        # same batch, earlier line
        ("S5", v1, None, 2, "b.csv", 9),        # same batch, later line
        ("S6", v1, "malformed", 1, "a.csv", 9),  # could not be parsed
    ], "spend_id string, updated_at string, _parse_error string, _batch_id long, "
       "_source_file string, _line long")
    stale = spark.createDataFrame(
        [(k, "b.csv", 5) for k in ("S1", "S2", "S3", "S4", "S5", "S6")],
        "spend_id string, _source_file string, _line long",
    ).withColumns({"updated_at": F.lit(v1).cast("timestamp"), "_batch_id": F.lit(2).cast("long")})
    got = repeats_of_seen(stale, bronze, c).select("spend_id")
    assertDataFrameEqual(got, spark.createDataFrame([("S1",), ("S4",)], "spend_id string"))


def test_a_repeat_with_other_content_is_a_conflict_not_a_duplicate(spark):
    c = contract("spend")
    rows = [
        ("A", "2024-01-03T00:00:00+08:00", "100.00", "f1", 1),
        ("A", "2024-01-03T00:00:00+08:00", "100.00", "f2", 1),  # the same record again
        ("A", "2024-01-03T00:00:00+08:00", "999.00", "f3", 1),  # same version, other amount
        ("B", "2024-01-03T00:00:00+08:00", None, "f1", 2),
        ("B", "2024-01-03T00:00:00+08:00", None, "f4", 1),  # a null equals a null: a copy
        ("B", "2024-01-03T00:00:00+08:00", "1.00", "f5", 1),  # a value where it had none
    ]
    df = spark.createDataFrame(rows, "spend_id string, updated_at string, amount_cny string, "
                                     "_source_file string, _line int").withColumns({
        "updated_at": F.to_timestamp("updated_at"), "amount_cny": F.col("amount_cny")
        .cast("decimal(18,2)")})
    got = {(r.spend_id, r._source_file): r._outcome for r in classify_versions(df, c).collect()}
    assert got == {("A", "f1"): "winner", ("A", "f2"): "duplicate", ("A", "f3"): "conflict",
                   ("B", "f1"): "winner", ("B", "f4"): "duplicate", ("B", "f5"): "conflict"}


def test_silvers_version_with_other_content_is_a_conflict(spark):
    from lanhai.jobs.silver import against_target

    c = contract("spend")
    schema = "spend_id string, updated_at timestamp, amount_cny decimal(18,2)"
    at = dt.datetime(2024, 1, 3)
    target = spark.createDataFrame([("A", at, Decimal("100.00")), ("B", at, Decimal("5.00"))],
                                   schema)
    batch = spark.createDataFrame([("A", at, Decimal("100.00")), ("B", at, Decimal("6.00")),
                                   ("C", at, Decimal("1.00"))], schema)
    got = {r.spend_id: r._outcome for r in against_target(batch, target, c).collect()}
    assert got == {"A": "duplicate", "B": "conflict", "C": "insert"}
