"""The erasure's scan of a table: one read finds which of the people it names (issue 16)."""

from __future__ import annotations

from lanhai.erasure import mentioned


def test_one_read_finds_which_of_the_people_a_table_names(spark):
    spark.createDataFrame(
        [("U12 bought it", ["a"], {"who": "U2"}, 1),  # U1 only inside U12: not U1
         ("nobody", ["x", "U3-x"], None, 2),          # a hyphen ends a word
         (None, None, {"who": "U40"}, 3)],
        "note string, tags array<string>, extra map<string,string>, n int",
    ).createOrReplaceTempView("erasure_probe")
    assert mentioned(spark, "erasure_probe", ["U1", "U2", "U3", "U4"]) == ["U2", "U3"]
    assert mentioned(spark, "erasure_probe", ["U40"]) == ["U40"]
    assert mentioned(spark, "erasure_probe", ["U5"]) == []


def test_a_table_without_text_names_nobody(spark):
    spark.createDataFrame([(1, 2.0)], "n int, x double").createOrReplaceTempView("erasure_nums")
    assert mentioned(spark, "erasure_nums", ["U1"]) == []


def test_a_merge_that_finds_nothing_left_counts_nothing(spark, config):
    """Scrubbing U1 also takes the only mention of U1-2 (a hyphen ends a word): U1-2's MERGE
    then matches no row and commits nothing, and its counts are its own (none), not the
    table's last commit's."""
    from lanhai.erasure import scrub_table

    spark.sql("create database if not exists erasure_unit")
    try:
        spark.createDataFrame([("O1", "paid by U1-2"), ("O2", "paid by U3")],
                              "order_id string, note string") \
            .write.format("delta").mode("overwrite").saveAsTable("erasure_unit.orders")
        assert mentioned(spark, "erasure_unit.orders", ["U1", "U1-2"]) == ["U1", "U1-2"]
        first = scrub_table(spark, config, "erasure_unit.orders", "U1", "erased_a")
        second = scrub_table(spark, config, "erasure_unit.orders", "U1-2", "erased_b")
        assert first == {"deleted": 0, "anonymised": 1}
        assert second == {"deleted": 0, "anonymised": 0}
        notes = sorted(r["note"] for r in spark.table("erasure_unit.orders").collect())
        assert notes == ["paid by U3", "paid by erased_a-2"]
    finally:
        spark.sql("drop database if exists erasure_unit cascade")
