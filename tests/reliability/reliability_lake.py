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
