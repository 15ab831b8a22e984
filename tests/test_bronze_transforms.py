"""Unit tests of the landing -> bronze transforms, on inline rows."""

from pyspark.testing import assertDataFrameEqual

from lanhai.contracts import contract
from lanhai.jobs.bronze import parse_csv, parse_jsonl, shape_records, split_lines

KEY = b"test-key"


def test_split_lines_numbers_lines_and_drops_blank_and_cr(spark):
    files = spark.createDataFrame([("f1", "a,b\r\n1,2\n\n3,4\n")], "path string, value string")
    expected = spark.createDataFrame(
        [("f1", 1, "a,b"), ("f1", 2, "1,2"), ("f1", 4, "3,4")],
        "path string, line_no int, line string")
    assertDataFrameEqual(split_lines(files), expected)


def test_csv_is_read_by_header_name_with_quotes(spark):
    lines = spark.createDataFrame(
        [("f", 1, "b,a"), ("f", 2, '"x, y",1'), ("g", 1, "a,b"), ("g", 2, "2,z"),
         ("g", 3, "3")],
        "path string, line_no int, line string")
    got = parse_csv(lines).select("path", "line_no", "record", "_parse_error")
    rows = {(r.path, r.line_no): r for r in got.collect()}
    assert rows[("f", 2)].record == {"a": "1", "b": "x, y"}
    assert rows[("g", 2)].record == {"a": "2", "b": "z"}
    assert rows[("g", 3)].record is None
    assert rows[("g", 3)]._parse_error == "malformed: 1 fields, header has 2"


def test_empty_csv_field_is_null(spark):
    lines = spark.createDataFrame([("f", 1, "a,b,c"), ("f", 2, "1,,3")],
                                  "path string, line_no int, line string")
    assert parse_csv(lines).first().record == {"a": "1", "b": None, "c": "3"}


def test_jsonl_keeps_numbers_by_value_and_flags_broken_lines(spark):
    lines = spark.createDataFrame(
        [("f", 1, '{"a": 1.50, "b": "x", "items": [{"q": 1}]}'), ("f", 2, '{"a": 1, "b"')],
        "path string, line_no int, line string")
    rows = parse_jsonl(lines).orderBy("line_no").collect()
    # JSON numbers keep their value, not their spelling: 1.50 arrives as "1.5" (exact for
    # amounts below 10^13); a source that sends amounts as strings keeps its text.
    assert rows[0].record["a"] == "1.5"
    assert rows[0].record["items"] == '[{"q":1}]'
    assert rows[0]._parse_error is None
    assert rows[1].record is None and rows[1]._parse_error.startswith("malformed")


def test_shape_records_tokenises_pii_rescues_unknown_fields_and_masks_raw(spark):
    users = contract("users")
    header = ",".join([*users.names, "wechat_id"])
    good = "U1,2024-01-01T00:00:00+08:00,1990,F,北京,tier1,search,false,13812345678,," \
           "a@b.cn,2024-01-01T00:00:00+08:00,13987654321"
    broken = "U2,13812345678,11010119900307451X"
    lines = spark.createDataFrame([("f", 1, header), ("f", 2, good), ("f", 3, broken)],
                                  "path string, line_no int, line string")
    out = {r.line_no: r for r in shape_records(parse_csv(lines), users, KEY).collect()}
    assert out[2].phone.startswith("tok_") and "13812345678" not in out[2].phone
    assert out[2].id_card_no is None
    assert out[2]._rescued_data == '{"wechat_id":"[PHONE]"}'
    assert out[3]._raw == "U2,[PHONE],[ID_CARD]"
    assert out[3].phone is None


def test_a_byte_order_mark_does_not_break_the_first_line(spark):
    """(Spark's CSV parser drops a leading BOM itself; JSON's does not.)"""
    files = spark.createDataFrame([("f", '\ufeff{"a": "1"}\n{"a": "2"}\n')],
                                  "path string, value string")
    rows = parse_jsonl(split_lines(files)).orderBy("line_no").collect()
    assert [(r.record, r._parse_error) for r in rows] == [({"a": "1"}, None), ({"a": "2"}, None)]


def test_a_header_that_repeats_a_name_makes_the_file_malformed_not_the_run(spark):
    lines = spark.createDataFrame(
        [("f", 1, "a,b,a"), ("f", 2, "1,2,3"), ("g", 1, "a,b"), ("g", 2, "4,5")],
        "path string, line_no int, line string")
    rows = {(r.path, r.line_no): r for r in parse_csv(lines).collect()}
    assert rows[("g", 2)].record == {"a": "4", "b": "5"} and rows[("g", 2)]._parse_error is None
    for line in (1, 2):  # the whole file, its header line included
        assert rows[("f", line)].record is None
        assert rows[("f", line)]._parse_error == "malformed: the header repeats a column name"


def test_a_file_without_a_header_is_malformed_with_its_first_line(spark):
    lines = spark.createDataFrame(
        [("f", 1, "2024-01-02,USD,false,false"), ("f", 2, "2024-01-03,EUR,true,false")],
        "path string, line_no int, line string")
    rows = sorted(parse_csv(lines, ["rate_date", "currency"]).collect(), key=lambda r: r.line_no)
    assert [r.line_no for r in rows] == [1, 2]
    assert all(r.record is None and r._parse_error.startswith("malformed: no header")
               for r in rows)
