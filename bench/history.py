"""What one more day costs as history grows (issue 15.2): `make bench-history`.

One process, one data folder, from an empty lake: simulate the profile's days (540) and one
more (or `max(points) + 1` if more) at a scale, then for each point N (90, 180, 360, 540 by
default) land the days up to N, catch the lake up with the daily run's own stages (ingest,
the quality gate, the transform: `dbt build` as production runs it, the customer-value fits,
the A/B readout; timed but not the figure), then land day N + 1 alone and run the same stages
over that day: that run is the point of the curve.
A flat curve means a day costs what the day costs, whatever the history behind it.

Results are printed as a table and written to bench/results/history-<timestamp>.json (and
each point, as it is measured, to history-points.json in the data folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _say(msg: str) -> None:
    # UTC: the Spark session sets this process's clock to the lake's time zone
    print(f"  {datetime.now(UTC):%H:%M:%S} UTC {msg}", file=sys.stderr, flush=True)


def _stages(config, start: date, end: date) -> dict:
    """The daily run's stages over [start, end], each timed (lanhai.pipeline)."""
    from run import _dbt_breakdown  # bench/run.py, beside this script

    from lanhai import pipeline

    began = time.perf_counter()
    out = pipeline.run(config, start, end, stages=["ingest", "gate", "transform"],
                       progress=lambda m: None)
    total = round(time.perf_counter() - began, 1)
    ingested = sum(r.get("rows", 0) for r in out["ingest"].get("bronze", []))
    transform = out["transform"]
    return {"start": str(start), "end": str(end), "total_s": total,
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "ingest_s": out["ingest"]["seconds"], "records": ingested,
            "gate_s": out["gate"]["seconds"], "transform_s": transform["seconds"],
            "dbt_s": transform["dbt_seconds"],
            "after_dbt_s": round(transform["seconds"] - transform["dbt_seconds"], 1),
            "dbt": _dbt_breakdown(config)}


def one(scale: str, points: list[int]) -> dict:
    from lanhai.config import load_config
    from lanhai.simulator import simulate

    config = load_config()
    sim = config.raw["simulator"]
    start = date.fromisoformat(sim["start"])
    # the scale's orders are spread over the simulated days: simulate the profile's days (one
    # more, so that its last day can be a point) whatever the points, so that a day's volume
    # is the same in every run of the bench
    days = max(sim["days"], *points) + 1
    _say(f"simulating {scale}, {days} days")
    began = time.perf_counter()
    result = simulate(config.landing, config.path("simulator"), start=start, days=days,
                      scale=scale, seed=sim["seed"], defects=sim["defects"])
    simulate_s = round(time.perf_counter() - began, 1)
    held = config.data_dir / "held_back"
    by_day: dict[date, list[Path]] = {}
    for path in sorted(config.landing.glob("*/*/dt=*/*")):
        day = date.fromisoformat(path.parent.name[3:13])
        if day >= start + timedelta(days=points[0]):
            dest = held / path.relative_to(config.landing)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, dest)
            by_day.setdefault(day, []).append(dest)

    def land(first: date, last: date) -> int:
        n = 0
        for day in sorted(d for d in by_day if first <= d <= last):
            for dest in by_day.pop(day):
                target = config.landing / dest.relative_to(held)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(dest, target)
                n += 1
        return n

    curve, landed_to = [], start - timedelta(days=1)
    for n_days in points:
        history_end = start + timedelta(days=n_days - 1)
        land(landed_to + timedelta(days=1), history_end)
        _say(f"catching up to {n_days} days ({landed_to + timedelta(days=1)}..{history_end})")
        catch_up = _stages(config, landed_to + timedelta(days=1), history_end)
        _say(f"  caught up in {catch_up['total_s']} s")
        day = history_end + timedelta(days=1)
        files = land(day, day)
        _say(f"one more day after {n_days} days: {day} ({files} files)")
        point = _stages(config, day, day)
        _say(f"  {point['total_s']} s: ingest {point['ingest_s']}, gate {point['gate_s']}, "
             f"dbt {point['dbt_s']}, then {point['after_dbt_s']} "
             f"(load {point['load_average']})")
        curve.append({"history_days": n_days, "day": str(day), "files": files,
                      "catch_up": catch_up, "one_more_day": point})
        # each point as it is measured: a long run that is stopped keeps its points so far
        (config.data_dir / "history-points.json").write_text(json.dumps(curve, indent=1))
        landed_to = day
    return {"scale": scale, "records": result.rows, "simulate_s": simulate_s, "curve": curve}


def table(res: dict) -> str:
    rows = ["| history (days) | day's records | ingest s | gate s | dbt build s (models / "
            "tests) | fits + readout s | one more day s | load (1, 5, 15 min) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in res["curve"]:
        d = c["one_more_day"]
        rows.append(f"| {c['history_days']} | {d['records']:,} | {d['ingest_s']} | "
                    f"{d['gate_s']} | {d['dbt_s']} ({d['dbt']['models_s']} / "
                    f"{d['dbt']['tests_s']}) | {d['after_dbt_s']} | {d['total_s']} | "
                    f"{', '.join(map(str, d['load_average']))} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--points", default="90,180,360,540",
                        help="days of history before each measured day, ascending")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    points = sorted(int(p) for p in args.points.split(","))
    if args.one:
        print("RESULT " + json.dumps(one(args.scale, points)), flush=True)
        return
    data = ROOT / "data" / "bench" / f"history-{args.scale}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    env = {**os.environ, "LANHAI_DATA_DIR": str(data), "LANHAI_PROFILE": "local"}
    proc = subprocess.run([sys.executable, __file__, "--one", "--scale", args.scale,
                           "--points", ",".join(map(str, points))],
                          env=env, stdout=subprocess.PIPE, text=True, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        sys.stderr.write(proc.stdout[-3000:])
        raise SystemExit(f"bench-history {args.scale} failed")
    res = json.loads(line[0][7:])
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (out / f"history-{stamp}.json").write_text(json.dumps(res, indent=1))
    print(f"\nOne more day at {args.scale} as history grows:\n" + table(res), flush=True)


if __name__ == "__main__":
    main()
