"""The reliability suite's fixtures: scratch lakes of their own, beside the session's."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

LAYERS = ("bronze", "silver", "quarantine", "audit")


@contextmanager
def scratch_lake(spark, config, root, prefix: str):
    """The session's config with its own landing zone, checkpoints and databases
    (`<prefix>_bronze`, ...) under `root`; the databases are dropped at the end."""
    dbs = {**config.raw["databases"], **{layer: f"{prefix}_{layer}" for layer in LAYERS}}
    own = replace(config, raw={**config.raw, "databases": dbs},
                  paths={**config.paths, "landing": root / "landing",
                         "checkpoints": root / "checkpoints"})
    for layer in LAYERS:
        spark.sql(f"drop database if exists {own.db(layer)} cascade")
        spark.sql(f"create database {own.db(layer)}")
    try:
        yield own
    finally:
        for layer in LAYERS:
            spark.sql(f"drop database if exists {own.db(layer)} cascade")


LOAD_TIMES = ("_ingested_at", "_silver_loaded_at", "_run_id", "run_id", "started_at",
              "finished_at", "quarantined_at",
              # audit.landed_files: when bronze took a file, and when the file was written to
              # this lake's landing zone (two lakes' copies of a file differ in that)
              "ingested_at", "file_modified_at")


def table_rows(spark, own, skip=LOAD_TIMES) -> dict[str, list]:
    """Every row of every table of a scratch lake's layers, sorted, without the columns in
    `skip` (when and by which run a row was written: they differ between equal runs)."""
    out = {}
    for layer in LAYERS:
        for t in spark.catalog.listTables(own.db(layer)):
            if not t.isTemporary:
                df = spark.table(f"{own.db(layer)}.{t.name}")
                keep = [c for c in df.columns if c not in skip]
                out[f"{layer}.{t.name}"] = sorted(map(tuple, df.select(*keep).collect()), key=str)
    return out
