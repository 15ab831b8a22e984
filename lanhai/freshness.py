"""Freshness: is a domain's latest landed data within its deadline?

Answered from the bronze tables' Delta folders through delta-rs (the `deltalake` package), the
same JVM-free reader as the analysts' fast path (lanhai/sql.py): the check reads one date column
and takes neither a Spark process nor, on the embedded profile, the catalog's lock, so a
domain's freshness task never waits behind another domain's ingest.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from lanhai.config import Config
from lanhai.quality.gate import settings
from lanhai.sql import latest_version


def latest_landing(table: Path) -> date | None:
    """The newest landing date (`_dt`) in a bronze table's folder; None when the folder holds no
    Delta table or no row."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if latest_version(table) is None:
        return None
    column = DeltaTable(str(table)).to_pyarrow_dataset().to_table(columns=["_dt"])["_dt"]
    return pc.max(column).as_py()


def late_entities(config: Config, entities: list[str], end: date) -> list[tuple[str, date | None]]:
    """The entities whose latest landing is older than their deadline before `end`
    (`quality.freshness_days`, per entity `quality.freshness_days_by_entity`; null: a reference
    feed that sends only changes has none), with that landing date (None: nothing landed)."""
    rules = settings(config)
    folder = config.lake / f"{config.db('bronze')}.db"
    late = []
    for entity in entities:
        deadline = rules["freshness_days_by_entity"].get(entity, rules["freshness_days"])
        if deadline is None:
            continue
        latest = latest_landing(folder / entity)
        if latest is None or latest < end - timedelta(days=deadline):
            late.append((entity, latest))
    return late
