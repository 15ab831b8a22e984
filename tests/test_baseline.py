"""The single-node baseline of `make bench` (bench/baseline.py: DuckDB reads the landing files
itself and applies the contracts in SQL) gives exactly the rows of the independent reference
the marts are checked against (tests/reference_kpis.py, which parses the files in Python), on
a simulated landing zone with every kind of defect made common."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

DEFECTS = {"malformed": 0.01, "missing_required": 0.01, "type_mismatch": 0.01,
           "unknown_enum": 0.01, "out_of_range": 0.01, "duplicates": 0.03,
           "late_events": 0.02, "late_users": 0.02, "late_files": 2, "schema_drift_files": 1}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    from lanhai.simulator import simulate

    root = tmp_path_factory.mktemp("baseline")
    simulate(root / "landing", root / "sim", start=date(2024, 1, 1), days=400, scale="tiny",
             seed=13, defects=DEFECTS)
    return root / "landing"


def test_the_baseline_gives_the_references_rows_exactly(landing):
    import baseline
    from reference_kpis import reference_review, review_differences

    seconds: dict = {}
    got = baseline.review(landing, seconds).to_dict("records")
    want = reference_review(landing).to_dict("records")
    assert len(want) > 5_000
    assert review_differences(want, got) == {"missing": [], "extra": [], "different": []}
    # the same cells, not merely close ones
    assert sorted(map(repr, got)) == sorted(map(repr, want))
    assert set(seconds) == {"records_read", "load_s", "prepare_s", "kpis_s"}


def test_the_baseline_applies_every_rule_of_the_contracts(landing):
    """The defects were read and dropped by the contracts' rules, not by the readers: more
    records read than valid, and each kind of rule rejects some."""
    import baseline
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Shanghai'")
    read = baseline.load(con, landing)
    valid = {e: con.execute(f"select count(*) from t_{e}").fetchone()[0] for e in read}
    kept = {e: con.execute(f"select count(*) from v_{e}").fetchone()[0] for e in read}
    assert read["orders"] > valid["orders"] > kept["orders"] > 0  # rules, then duplicates
    assert read["users"] > valid["users"] and read["inventory"] > valid["inventory"]
