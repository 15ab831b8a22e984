"""An erasure stopped midway is finished by its rerun: the tables the stopped run had already
scrubbed no longer name the person, yet their earlier Delta versions hold the rows and their
marts were built from them, so the rerun vacuums and rebuilds them too (lanhai.erasure's
pending file, table names only). Spark is replaced by fakes: what is checked is which tables
each run scrubs, vacuums and rebuilds."""

from __future__ import annotations

from unittest import mock

import pytest

from lanhai import erasure


class Stop(Exception):
    pass


@pytest.fixture
def lake(tmp_path, monkeypatch):
    from lanhai.config import load_config

    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path))
    config = load_config("test")  # everything under tmp_path; the landing zone is faked
    names = {"silver.users": True, "silver.orders": True, "bronze.orders": True,
             "silver.merchants": False}  # does the table name the person now?
    seen = {"scrubbed": [], "vacuumed": [], "rebuilt": []}
    stop_at = {"table": None}

    def scrub(spark, config, table, uid, surrogate):
        if table == stop_at["table"]:
            raise Stop(table)
        names[table] = False
        seen["scrubbed"].append(table)
        return {"deleted": 0, "anonymised": 1}

    def rebuilt(spark, config, tables):
        seen["rebuilt"].append(list(tables))
        return []

    monkeypatch.setattr(erasure, "_lake_tables", lambda spark, config: sorted(names))
    monkeypatch.setattr(erasure, "mentioned",
                        lambda spark, t, ids: list(ids) if names[t] else [])
    monkeypatch.setattr(erasure, "scrub_landing", lambda landing, uid, surrogate: [])
    monkeypatch.setattr(erasure, "scrub_table", scrub)
    monkeypatch.setattr(erasure, "rebuild_marts", rebuilt)
    monkeypatch.setattr(erasure, "vacuum_now",
                        lambda spark, tables: seen["vacuumed"].append(list(tables)))
    monkeypatch.setattr(erasure, "scrub_files", lambda config, uid: [])
    monkeypatch.setattr("lanhai.spark.ensure_table", lambda *a, **k: None)
    monkeypatch.setattr("pyspark.sql.functions.lit", mock.MagicMock())
    monkeypatch.setattr("pyspark.sql.functions.current_timestamp", mock.MagicMock())
    return {"config": config, "spark": mock.MagicMock(), "seen": seen, "stop_at": stop_at}


def test_a_rerun_vacuums_and_rebuilds_the_tables_the_stopped_run_scrubbed(lake):
    config, spark, seen = lake["config"], lake["spark"], lake["seen"]
    lake["stop_at"]["table"] = "silver.orders"  # scrubbed after bronze.orders (sorted)
    with pytest.raises(Stop):
        erasure.erase_users(spark, config, ["U7"])
    assert seen["scrubbed"] == ["bronze.orders"]
    assert seen["vacuumed"] == [] and seen["rebuilt"] == []
    assert erasure.pending_path(config).exists()
    assert "U7" not in erasure.pending_path(config).read_text()  # names of tables only

    lake["stop_at"]["table"] = None
    done = erasure.erase_users(spark, config, ["U7"])
    assert seen["scrubbed"] == ["bronze.orders", "silver.orders", "silver.users"]
    # bronze.orders no longer names U7, but its earlier versions did: vacuumed and rebuilt
    assert seen["vacuumed"] == [["bronze.orders", "silver.orders", "silver.users"]]
    assert seen["rebuilt"] == [["bronze.orders", "silver.orders", "silver.users"]]
    assert sorted(done.tables) == ["silver.orders", "silver.users"]  # this run's counts
    assert not erasure.pending_path(config).exists()


def test_a_finished_erasure_leaves_nothing_pending(lake):
    config, seen = lake["config"], lake["seen"]
    erasure.erase_users(lake["spark"], config, ["U7"])
    assert seen["vacuumed"] == [["bronze.orders", "silver.orders", "silver.users"]]
    assert not erasure.pending_path(config).exists()
    # and a later erasure of someone else does not redo this one's tables
    erasure.erase_users(lake["spark"], config, ["U8"])
    assert seen["vacuumed"][1] == []
