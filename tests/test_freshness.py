"""The ingest DAGs' freshness check, read from bronze's Delta folders without Spark."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa
import pytest

END = date(2025, 3, 10)


@pytest.fixture
def lake(config, tmp_path):
    """A lake folder of its own with bronze tables written by delta-rs (no JVM)."""
    from deltalake import write_deltalake

    own = replace(config, paths={**config.paths, "lake": tmp_path / "lake"})
    bronze = own.lake / f"{own.db('bronze')}.db"

    def land(entity: str, *days: date) -> None:
        write_deltalake(str(bronze / entity), pa.table({
            "id": pa.array([str(i) for i in range(len(days))]),
            "_dt": pa.array(list(days), pa.date32())}), mode="append")

    return own, land


def test_an_entity_within_its_deadline_is_not_late(lake):
    from lanhai.freshness import late_entities

    own, land = lake
    land("orders", date(2025, 3, 1), date(2025, 3, 8))  # deadline 2 days: 03-08 is in time
    assert late_entities(own, ["orders"], END) == []


def test_the_latest_landing_decides_and_is_named(lake):
    from lanhai.freshness import late_entities

    own, land = lake
    land("orders", date(2025, 3, 7))
    land("orders", date(2025, 3, 1))  # a late file of an older day lands afterwards
    assert late_entities(own, ["orders"], END) == [("orders", date(2025, 3, 7))]


def test_per_entity_deadlines_and_feeds_without_one(lake):
    from lanhai.freshness import late_entities

    own, land = lake
    land("merchants", date(2025, 2, 25))   # 14 days: in time
    land("skus", date(2025, 2, 20))        # 14 days: late
    land("categories", date(2024, 1, 1))   # sends only changes: never late
    got = late_entities(own, ["merchants", "skus", "categories"], END)
    assert got == [("skus", date(2025, 2, 20))]


def test_an_entity_that_never_landed_is_late_with_no_date(lake):
    from lanhai.freshness import late_entities

    own, _ = lake
    assert late_entities(own, ["orders"], END) == [("orders", None)]
