"""Delta maintenance of the lake: OPTIMIZE (compact the small files daily MERGEs and appends
leave), then VACUUM with a retention that keeps time travel and running readers safe."""

from __future__ import annotations

from lanhai.config import Config

LAYERS = ("bronze", "silver", "quarantine", "audit", "marts")
MIN_RETAIN_HOURS = 168  # Delta's own safety check stays on: a week of history is kept


def retain_hours(config: Config) -> int:
    """`maintenance.vacuum_retain_hours`, never under a week."""
    wanted = (config.raw.get("maintenance") or {}).get("vacuum_retain_hours", MIN_RETAIN_HOURS)
    return max(MIN_RETAIN_HOURS, int(wanted))


def optimize_and_vacuum(spark, config: Config) -> list[str]:
    """OPTIMIZE then VACUUM every Delta table of the lake's layers (views and other formats
    are left alone); return the tables done. Table history (DESCRIBE HISTORY) is kept."""
    from lanhai.spark import delta_tables

    hours = retain_hours(config)
    dbs = [config.db(layer) for layer in LAYERS if spark.catalog.databaseExists(config.db(layer))]
    done = []
    for name in delta_tables(spark, dbs):
        spark.sql(f"optimize {name}")
        spark.sql(f"vacuum {name} retain {hours} hours")
        done.append(name)
    return done
