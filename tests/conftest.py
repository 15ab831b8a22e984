"""Shared fixtures: one SparkSession for the whole run, and the small lake built once."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Point the test profile at a fresh folder before anything reads the config.

    LANHAI_TEST_DATA_DIR (for development only) keeps the folder between runs, and the small
    lake built in it is reused instead of rebuilt.
    """
    keep = os.environ.get("LANHAI_TEST_DATA_DIR")
    path = Path(keep) if keep else tmp_path_factory.mktemp("lanhai-data")
    os.environ["LANHAI_DATA_DIR"] = str(path)
    os.environ["LANHAI_PROFILE"] = "test"
    return path


@pytest.fixture(scope="session")
def config(data_dir):
    from lanhai.config import load_config

    return load_config("test")


@pytest.fixture(scope="session")
def spark(config):
    """The one SparkSession of the test run: local[2], UI off, few partitions, Delta on."""
    from lanhai.spark import get_spark

    session = get_spark(config)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_lake(config, spark):
    """Simulate `small`, then ingest three times: without the late files, again with nothing
    new, and after the late files land. Returns the manifest and a snapshot after each run."""
    from datetime import date

    from lanhai.jobs.ingest import run_job
    from lanhai.simulator import simulate

    saved = config.data_dir / "small_lake.json"
    if os.environ.get("LANHAI_TEST_DATA_DIR") and saved.exists():
        return json.loads(saved.read_text())
    sim = config.raw["simulator"]
    result = simulate(config.landing, config.path("simulator"),
                      start=date.fromisoformat(sim["start"]), days=sim["days"],
                      scale="small", seed=sim["seed"], defects=sim["defects"])
    manifest = result.manifest
    held = config.data_dir / "held_back"
    for late in manifest["late_files"]:
        dest = held / late["file"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(config.landing / late["file"], dest)
    runs = [run_job("ingest", config)]
    snaps = [_snapshot(spark, config)]
    runs.append(run_job("ingest", config))
    snaps.append(_snapshot(spark, config))
    for late in manifest["late_files"]:
        shutil.move(held / late["file"], config.landing / late["file"])
    runs.append(run_job("ingest", config))
    snaps.append(_snapshot(spark, config))
    built = {"manifest": manifest, "runs": runs, "snapshots": snaps}
    saved.write_text(json.dumps(built, default=str))
    return json.loads(saved.read_text())


def _snapshot(spark, config) -> dict[str, dict]:
    """Rows, Delta version and data files of every table of the lake."""
    out = {}
    for layer in config.raw["databases"]:
        db = config.db(layer)
        for t in spark.catalog.listTables(db):
            name = f"{db}.{t.name}"
            detail = spark.sql(f"describe detail {name}").first()
            version = spark.sql(f"describe history {name} limit 1").first()["version"]
            out[name] = {"rows": spark.table(name).count(), "version": version,
                         "files": detail["numFiles"]}
    return out
