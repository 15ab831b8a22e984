"""The simulator of the marketplace's source systems: seeded, realistic, with defects and truths."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lanhai.contracts import contracts
from lanhai.simulator.landing import (
    CHUNK_RECORDS,
    STREAMS,
    Landed,
    merge_landed,
    write_entity,
)
from lanhai.simulator.model import simulate_clean
from lanhai.simulator.plan_feeds import truths as plan_truths
from lanhai.simulator.truth import calibration_report, survival_truths, weekly_truths

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote, and how long it took."""

    manifest_path: Path
    rows: int
    files: int
    seconds: float
    manifest: dict
    model_seconds: float = 0.0  # the world's clean records, in memory
    clean_records: int = 0      # the records the model made (before defects and duplicates)
    workers: int = 1


def _clean_json(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if hasattr(value, "item"):
        return _clean_json(value.item())
    return value


_WORLD: list = []  # the world a forked worker inherits (set in the parent before the fork)


def _task(name: str, *args):
    """One unit of the work after the model: the truths, or an entity's files."""
    world = _WORLD[0]
    if name == "truths":
        weekly = weekly_truths(world)
        return (weekly, survival_truths(world), calibration_report(world, weekly),
                plan_truths(world))
    landing, defects, chunk_records = args
    return write_entity(world, landing, defects, name, STREAMS.index(name), chunk_records)


def default_workers() -> int:
    """Processes for writing the files and computing the truths: the machine's cores, at most
    four ($LANHAI_SIM_WORKERS overrides)."""
    return int(os.environ.get("LANHAI_SIM_WORKERS", min(os.cpu_count() or 1, 4)))


def _run_tasks(world, tasks: dict[str, tuple], workers: int, progress) -> dict:
    """Run the tasks, largest first, in `workers` processes forked from this one (they share
    the world's arrays copy-on-write); report each as it finishes."""
    results = {}
    _WORLD[:] = [world]
    try:
        if workers <= 1:
            for name, args in tasks.items():
                results[name] = _task(*args)
                if progress:
                    progress(name, _size(results[name], name))
            return results
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_task, *args): name for name, args in tasks.items()}
            for done in as_completed(futures):
                name = futures[done]
                try:
                    results[name] = done.result()
                except BrokenProcessPool as e:
                    raise RuntimeError(
                        f"a simulator worker died while writing {name!r} (out of memory?); "
                        f"LANHAI_SIM_WORKERS=1 runs the simulator in one process") from e
                if progress:
                    progress(name, _size(results[name], name))
        return results
    finally:
        _WORLD.clear()


def _size(result, name: str) -> int:
    return result.records[name] if isinstance(result, Landed) else len(result[0])


# Measured (make bench-sim: the largest drop of MemAvailable while it ran): the model holds
# the world in memory, about 1.25 GB per million orders over 540 days at its peak; each worker
# process adds the text of the chunk it formats. With 2 workers, medium (1M orders) used
# 5.0 GB and large (10M orders) 15.9 GB with 1M-record chunks; with 200k-record chunks (now)
# 2.7-3.8 GB and 12.7-14.6 GB. The estimate below stays a little above all of them. Refuse up
# front what cannot fit instead of being killed half-way.
GB_PER_MILLION_ORDERS = 1.4
GB_PER_WORKER = 1.9


def memory_needed(scale: str, days: int, workers: int) -> float:
    """The memory (GB) a simulation needs: its world, and a chunk per worker process."""
    from lanhai.simulator.world import SCALES

    return (GB_PER_MILLION_ORDERS * SCALES[scale].orders / 1e6 * max(days, 1) / 540
            + GB_PER_WORKER * max(workers, 1))


def memory_check(scale: str, days: int, available: float | None = None,
                 workers: int | None = None) -> None:
    """Raise a clear error when the simulation will not fit in this machine's memory
    (`available` GB; default: the kernel's MemAvailable)."""
    from lanhai.simulator.world import SCALES

    if scale not in SCALES or os.environ.get("LANHAI_SIM_SKIP_MEMORY_CHECK"):
        return
    workers = default_workers() if workers is None else workers
    need = memory_needed(scale, days, workers)
    if available is None:
        try:
            with open("/proc/meminfo") as fh:
                info = dict(line.split(":", 1) for line in fh)
            available = int(info["MemAvailable"].split()[0]) / 2**20
        except (OSError, KeyError, ValueError):
            return
    if need > available:
        raise MemoryError(
            f"scale {scale!r} over {days} days with {workers} worker process(es) needs about "
            f"{need:.0f} GB of memory (the simulated world is held in memory whole, and each "
            f"worker formats {CHUNK_RECORDS:,} records at a time); this machine has "
            f"{available:.0f} GB available. Use a smaller scale, fewer days or fewer workers "
            f"(LANHAI_SIM_WORKERS=1), or set LANHAI_SIM_SKIP_MEMORY_CHECK=1 to try anyway.")


def simulate(landing: Path, manifest_dir: Path, *, start: date, days: int, scale: str, seed: int,
             defects: dict[str, float] | None = None,
             progress: Callable[[str, int], None] | None = None,
             workers: int | None = None,
             chunk_records: int = CHUNK_RECORDS) -> SimulationResult:
    """Simulate the sources, write their files under `landing` and a manifest of truths.

    The model runs in this process; then each entity's files and the truths are written by
    `workers` processes (default: `default_workers()`), each formatting `chunk_records`
    records at a time; the output depends on neither."""
    workers = default_workers() if workers is None else workers
    memory_check(scale, days, workers=workers)
    began = time.perf_counter()
    world = simulate_clean(start, days, scale, seed)
    model_seconds = time.perf_counter() - began
    if progress:
        progress("model", len(world.orders))
    entities = list(contracts())
    tasks = {"truths": ("truths",)}
    for entity in sorted(entities, key=lambda e: -len(world.tables[e])):  # largest first
        tasks[entity] = (entity, landing, defects, chunk_records)
    done = _run_tasks(world, tasks, workers, progress)
    landed = Landed()
    for entity in entities:
        merge_landed(landed, done[entity])
    weekly, survival, calibration, plan = done["truths"]
    manifest = {
        "params": {"start": start.isoformat(), "days": days, "scale": scale, "seed": seed,
                   "defects": defects or {}},
        "landing": str(landing),
        "records": landed.records,
        "files": {k: len(v) for k, v in landed.files.items()},
        "dropped_orders": world.dropped_orders,
        "defects": landed.defects,
        "duplicates": landed.duplicates,
        "late_files": landed.late_files,
        "late_references": landed.late_references,
        "schema_drift": landed.schema_drift,
        "calibration": calibration,
        "truth": {
            "notes": "Computed by the simulator from its own clean arrays. Weeks are ISO weeks "
                     "in Asia/Shanghai; money in CNY; rates as fractions; null = not covered.",
            "weekly": weekly.to_dict(orient="records"),
            "first_year_survival": survival.to_dict(orient="records"),
            # the rest of the plan's feeds (lanhai.simulator.plan_feeds.truths)
            "plan": plan,
        },
    }
    manifest = _clean_json(manifest)
    manifest_dir.mkdir(parents=True, exist_ok=True)
    path = manifest_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return SimulationResult(
        manifest_path=path, rows=sum(landed.records.values()),
        files=sum(len(v) for v in landed.files.values()),
        seconds=time.perf_counter() - began, manifest=manifest, model_seconds=model_seconds,
        clean_records=sum(len(t) for t in world.tables.values()), workers=workers,
    )


def load_manifest(manifest_dir: Path) -> dict:
    """Read the manifest a simulation wrote."""
    path = manifest_dir / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"no simulator manifest at {path}: run `lanhai generate` first")
    return json.loads(path.read_text(encoding="utf-8"))
