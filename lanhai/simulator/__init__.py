"""The simulator of the marketplace's source systems: seeded, realistic, with defects and truths."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lanhai.simulator.landing import write_landing
from lanhai.simulator.model import simulate_clean
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


def simulate(landing: Path, manifest_dir: Path, *, start: date, days: int, scale: str, seed: int,
             defects: dict[str, float] | None = None,
             progress: Callable[[str, int], None] | None = None) -> SimulationResult:
    """Simulate the sources, write their files under `landing` and a manifest of truths."""
    began = time.perf_counter()
    world = simulate_clean(start, days, scale, seed)
    if progress:
        progress("model", len(world.orders))
    landed = write_landing(world, landing, defects, progress=progress)
    weekly = weekly_truths(world)
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
        "calibration": calibration_report(world, weekly),
        "truth": {
            "notes": "Computed by the simulator from its own clean arrays. Weeks are ISO weeks "
                     "in Asia/Shanghai; money in CNY; rates as fractions; null = not covered.",
            "weekly": weekly.to_dict(orient="records"),
            "first_year_survival": survival_truths(world).to_dict(orient="records"),
        },
    }
    manifest = _clean_json(manifest)
    manifest_dir.mkdir(parents=True, exist_ok=True)
    path = manifest_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return SimulationResult(
        manifest_path=path, rows=sum(landed.records.values()),
        files=sum(len(v) for v in landed.files.values()),
        seconds=time.perf_counter() - began, manifest=manifest,
    )


def load_manifest(manifest_dir: Path) -> dict:
    """Read the manifest a simulation wrote."""
    path = manifest_dir / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"no simulator manifest at {path}: run `lanhai generate` first")
    return json.loads(path.read_text(encoding="utf-8"))
