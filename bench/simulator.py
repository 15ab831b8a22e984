"""The source-system simulator's speed (`make bench-sim`, SCALES=small,medium).

For each scale, in a fresh process (so its peak memory is its own), into an empty folder:
simulate the default window (conf/local.yaml: 540 days, seed 7, the configured defects) with
the default number of worker processes, and report the model's time (the clean records, in
memory), the whole command's time (model, files, truths, manifest), records per second of
each, files and peak memory. Results go to bench/results/simulator-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(scale: str, out: Path) -> dict:
    from lanhai.config import load_config
    from lanhai.simulator import simulate

    sim = load_config("local").raw["simulator"]
    r = simulate(out / "landing", out / "simulator", start=date.fromisoformat(sim["start"]),
                 days=sim["days"], scale=scale, seed=sim["seed"], defects=sim["defects"])
    rest = r.seconds - r.model_seconds
    peak = max(resource.getrusage(who).ru_maxrss  # this process, or its largest worker
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {
        "peak_rss_mb": round(peak / 1024),
        "scale": scale, "workers": r.workers, "records": r.rows, "files": r.files,
        "clean_records": r.clean_records, "orders": r.manifest["calibration"]["paid_orders"],
        "model_s": round(r.model_seconds, 1),
        "model_records_per_s": round(r.clean_records / r.model_seconds),
        "files_and_truths_s": round(rest, 1),
        "total_s": round(r.seconds, 1), "records_per_s": round(r.rows / r.seconds),
        "landing_mb": round(sum(p.stat().st_size for p in (out / "landing").rglob("*")
                                if p.is_file()) / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="small,medium")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, Path(args.out))))
        return
    results = []
    for scale in args.scales.split(","):
        out = Path(tempfile.mkdtemp(prefix=f"lanhai-bench-sim-{scale}-"))
        try:
            began = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--one", scale, "--out", str(out)],
                                  check=True, capture_output=True, text=True)
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            figures["process_s"] = round(time.perf_counter() - began, 1)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results.append(figures)
        print(f"{scale:7s} {figures['records']:>11,} records {figures['files']:>6,} files  "
              f"model {figures['model_s']:6.1f} s ({figures['model_records_per_s']:>10,}/s)  "
              f"total {figures['total_s']:6.1f} s ({figures['records_per_s']:>10,}/s)  "
              f"{figures['workers']} workers, peak {figures['peak_rss_mb']:,} MB", flush=True)
    dest = ROOT / "bench" / "results" / f"simulator-{datetime.now():%Y%m%dT%H%M%S}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(results, indent=1))
    print(f"results: {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
