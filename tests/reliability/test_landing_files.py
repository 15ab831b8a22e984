"""Every landed file is ingested, quarantined or reported with why (issue 16): file names with
spaces and `+` keep their names in lineage, an upper-case extension is read, hidden names and
other extensions are reported as skipped on every run, and a symbolic link (to a file or to a
folder) is never followed: its file is quarantined whole and nothing from outside the landing
zone reaches bronze.

A landing zone of its own, ingested into databases of its own (one entity, a few files)."""

from __future__ import annotations

import datetime

import pytest
from reliability_lake import scratch_lake

pytestmark = pytest.mark.integration

HEADER = "rate_date,currency,cny_per_unit,published_at\n"
SECRET = "OUTSIDE-THE-LANDING-ZONE"  # pragma: allowlist secret


def _rate(day: str, currency: str, rate: str) -> str:
    return f"{day},{currency},{rate},{day}T09:15:00+08:00\n"


@pytest.fixture(scope="module")
def landed(spark, config, tmp_path_factory):
    """Land the files, ingest twice (the second run with nothing new)."""
    root = tmp_path_factory.mktemp("landing-files")
    with scratch_lake(spark, config, root, "rel") as own:
        yield _land_and_ingest(own, root)


def _land_and_ingest(own, root) -> dict:
    from lanhai.jobs.ingest import run_job

    fx = own.landing / "fx" / "fx_rates"
    outside = root / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.csv").write_text(HEADER + _rate("2024-01-04", "USD", "1.0") + SECRET)
    (outside / "folder" / "x.csv").write_text(HEADER + _rate("2024-01-05", "JPY", "9.9"))
    files = {
        "dt=2024-01-02/part-00000.csv": HEADER + _rate("2024-01-02", "USD", "7.05")
        + _rate("2024-01-02", "EUR", "7.66"),
        "dt=2024-01-03/RATES.CSV": HEADER + _rate("2024-01-03", "USD", "7.06"),
        "dt=2024-01-03/.upload-in-progress.csv": HEADER + _rate("2024-01-03", "EUR", "7.7"),
        "dt=2024-01-03/_SUCCESS": "",
        "dt=2024-01-03/notes.txt": "rates from the treasury\n",
        "dt=2024-01-04/a b+c.csv": HEADER + _rate("2024-01-04", "EUR", "7.67"),
        "dt=2024-01-06/bom.csv": "\ufeff" + HEADER + _rate("2024-01-06", "USD", "7.10"),
        "dt=2024-01-06/repeated.csv": HEADER.replace("published_at", "currency")
        + _rate("2024-01-06", "KRW", "0.005"),
        "dt=2024-01-07/resent.csv": HEADER + _rate("2024-01-02", "USD", "7.05")
        + _rate("2024-01-02", "EUR", "7.99"),  # a copy, and the same version with another rate
        "dt=2024-01-06/no-header.csv": _rate("2024-01-06", "HKD", "0.91")
        + _rate("2024-01-07", "HKD", "0.92"),
    }
    for rel, text in files.items():
        (fx / rel).parent.mkdir(parents=True, exist_ok=True)
        (fx / rel).write_text(text, encoding="utf-8")
    (fx / "dt=2024-01-06" / "latin1.csv").write_bytes(
        (HEADER + "2024-01-06,EUR,7.8,2024-01-06T09:15:00+08:00 caf\xe9\n").encode("latin-1"))
    (fx / "dt=2024-01-04" / "link.csv").symlink_to(outside / "secret.csv")
    (fx / "dt=2024-01-05").symlink_to(outside / "folder", target_is_directory=True)
    first = run_job("ingest", own, ["fx_rates"])
    second = run_job("ingest", own, ["fx_rates"])
    return {"config": own, "first": first, "second": second}


def _bronze(spark, own):
    return spark.table(own.table("bronze", "fx_rates"))


def test_lineage_names_the_files_as_they_are_on_disk(landed, spark):
    own = landed["config"]
    names = {r._source_file for r in _bronze(spark, own).select("_source_file").collect()}
    assert names == {"fx/fx_rates/dt=2024-01-02/part-00000.csv",
                     "fx/fx_rates/dt=2024-01-03/RATES.CSV",
                     "fx/fx_rates/dt=2024-01-04/a b+c.csv",
                     "fx/fx_rates/dt=2024-01-04/link.csv",
                     "fx/fx_rates/dt=2024-01-05/x.csv",
                     *(f"fx/fx_rates/dt=2024-01-06/{n}.csv"
                       for n in ("bom", "repeated", "no-header", "latin1")),
                     "fx/fx_rates/dt=2024-01-07/resent.csv"}
    for name in names - {n for n in names if "link" in n or "01-05" in n}:
        assert (own.landing / name).is_file(), name


def test_an_upper_case_extension_is_read(landed, spark):
    own = landed["config"]
    rows = spark.table(own.table("silver", "fx_rates")).where("rate_date = '2024-01-03'")
    assert [(r.currency, str(r.cny_per_unit)) for r in rows.collect()] == [("USD", "7.060000")]


def test_hidden_names_and_other_extensions_are_reported_on_every_run(landed):
    for run in ("first", "second"):
        [bronze] = landed[run]["bronze"]
        reasons = {s["file"]: s["reason"] for s in bronze["skipped_files"]}
        assert set(reasons) == {"dt=2024-01-03/.upload-in-progress.csv",
                                "dt=2024-01-03/_SUCCESS", "dt=2024-01-03/notes.txt"}, run
        assert "hidden name" in reasons["dt=2024-01-03/_SUCCESS"]
        assert "not a .csv file" in reasons["dt=2024-01-03/notes.txt"]


def test_a_symbolic_link_is_never_followed_and_its_file_is_quarantined_whole(landed, spark):
    own = landed["config"]
    assert landed["first"]["bronze"][0]["refused"] == 2
    assert landed["second"]["bronze"][0]["refused"] == 0
    refused = _bronze(spark, own).where("_source_file like '%link.csv' or _dt = '2024-01-05'")
    rows = refused.collect()
    assert len(rows) == 2  # one row per file, nothing of its content
    for r in rows:
        assert r._parse_error.startswith("refused: a symbolic link")
        assert r.currency is None and r.rate_date is None and r._line is None
    # every value but the load timestamps (whose digits may well read "...59.9...")
    text = " ".join(str(v) for r in _bronze(spark, own).collect() for v in r
                    if not isinstance(v, datetime.datetime))
    assert SECRET not in text and "JPY" not in text and "9.9" not in text
    quarantined = spark.table(own.table("quarantine", "records")).where(
        "entity = 'fx_rates'").collect()
    by_file = {q.source_file: q for q in quarantined}
    for name in ("fx/fx_rates/dt=2024-01-04/link.csv", "fx/fx_rates/dt=2024-01-05/x.csv"):
        assert by_file[name].rule == "malformed"
        assert "symbolic link" in by_file[name].raw


def test_silver_holds_exactly_the_readable_files_rates(landed, spark):
    own = landed["config"]
    got = sorted((str(r.rate_date), r.currency) for r in
                 spark.table(own.table("silver", "fx_rates")).collect())
    assert got == [("2024-01-02", "EUR"), ("2024-01-02", "USD"), ("2024-01-03", "USD"),
                   ("2024-01-04", "EUR"), ("2024-01-06", "USD")]  # 01-06: the BOM file's


@pytest.mark.parametrize(("name", "lines", "reason"), [
    ("repeated", [1, 2], "malformed: the header repeats a column name"),
    ("no-header", [1, 2], "malformed: no header"),
    ("latin1", [2], "malformed: not valid UTF-8"),
])
def test_a_file_the_feed_got_wrong_is_quarantined_with_its_reason(landed, spark, name, lines,
                                                                  reason):
    """Every line of the file, named by file and line; the run went on (the BOM file landed)."""
    own = landed["config"]
    file = f"fx/fx_rates/dt=2024-01-06/{name}.csv"
    bronze = _bronze(spark, own).where(f"_source_file = '{file}'").collect()
    assert sorted(r._line for r in bronze) == lines
    assert all(r._parse_error.startswith(reason) for r in bronze)
    quarantined = spark.table(own.table("quarantine", "records")).where(
        f"source_file = '{file}'").collect()
    assert sorted(q.line for q in quarantined) == lines
    assert all(q.rule == "malformed" for q in quarantined)


def test_the_same_version_with_other_content_is_quarantined_as_a_conflict(landed, spark):
    """The first record of a (key, version) stays; a copy is a duplicate; a record with that
    key and version but another rate is a conflict, quarantined, and the accounting adds up."""
    own = landed["config"]
    [eur] = spark.table(own.table("silver", "fx_rates")).where(
        "rate_date = '2024-01-02' and currency = 'EUR'").collect()
    assert str(eur.cny_per_unit) == "7.660000"
    [q] = spark.table(own.table("quarantine", "records")).where(
        "source_file = 'fx/fx_rates/dt=2024-01-07/resent.csv'").collect()
    assert (q.rule, q.field, q.line) == ("conflict", "published_at", 3)
    assert "7.99" in q.raw
    [silver] = landed["first"]["silver"]
    assert silver["duplicates"] == 1
    assert silver["landed"] == (silver["inserted"] + silver["updated"] + silver["superseded"]
                                + silver["duplicates"] + silver["quarantined"])
