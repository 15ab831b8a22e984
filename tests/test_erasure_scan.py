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
