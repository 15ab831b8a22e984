"""Run the ingest jobs in order, and the landing zone's retention."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from lanhai.config import Config
from lanhai.spark import get_spark

JOBS = ("bronze", "silver", "ingest", "retention", "replay")


def run_job(job: str, config: Config, entities: list[str] | None = None,
            on_batch=None) -> dict:
    """Run one job by name in this process's Spark session."""
    from lanhai.jobs import bronze, silver

    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}; choose one of {', '.join(JOBS)}")
    if job in ("bronze", "ingest") and not config.landing.is_dir():
        # a mistyped LANHAI_DATA_DIR would otherwise ingest nothing and report success
        raise FileNotFoundError(
            f"no landing zone at {config.landing} (data folder {config.data_dir}): "
            f"land files there (`lanhai generate` simulates them) or point LANHAI_DATA_DIR "
            f"at the right data folder")
    spark = get_spark(config)
    run_id = uuid.uuid4().hex[:12]
    out: dict = {"run_id": run_id}
    began = time.perf_counter()
    if job in ("bronze", "ingest"):
        out["bronze"] = bronze.run(spark, config, entities, run_id,
                                   on_batch=(lambda e, b, f, r: on_batch("bronze", e, r))
                                   if on_batch else None)
    if job in ("silver", "ingest"):
        out["silver"] = silver.run(spark, config, entities, run_id,
                                   on_batch=(lambda e, b, s: on_batch("silver", e, s["landed"]))
                                   if on_batch else None)
    if job == "replay":
        out["silver"] = silver.replay(spark, config, entities, run_id)
    if job in ("retention", "ingest"):
        out["retention"] = apply_retention(config)
    out["seconds"] = round(time.perf_counter() - began, 1)
    return out


def apply_retention(config: Config, now: float | None = None) -> dict:
    """Delete landed files older than `landing.retention_days` (0 keeps them forever).

    Only files that bronze has already taken are deleted (bronze is the replay source for
    anything older), and emptied `dt=` folders go with them.
    """
    days = int(config.raw.get("landing", {}).get("retention_days", 0) or 0)
    if days <= 0:
        return {"retention_days": 0, "deleted": 0}
    now = time.time() if now is None else now
    ingested = _ingested_files(config)
    deleted = []
    for path in sorted(Path(config.landing).rglob("dt=*/*")):
        rel = path.relative_to(config.landing).as_posix()
        if path.is_file() and now - path.stat().st_mtime > days * 86_400 and rel in ingested:
            path.unlink()
            deleted.append(rel)
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return {"retention_days": days, "deleted": len(deleted), "files": deleted[:20]}


def _ingested_files(config: Config) -> set[str]:
    from lanhai.contracts import contracts

    spark = get_spark(config)
    seen: set[str] = set()
    for entity in contracts():
        table = config.table("bronze", entity)
        if spark.catalog.tableExists(table):
            seen.update(r[0] for r in spark.table(table).select("_source_file").distinct()
                        .collect())
    return seen
