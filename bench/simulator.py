"""The source-system simulator's speed (`make bench-sim`, SCALES=small,medium; large too).

For each scale, in a fresh process, into an empty folder (under the system's temporary folder,
or --dir): simulate the default window (conf/local.yaml: 540 days, seed 7, the configured
defects) with the default number of worker processes, and report the model's time (the clean
records, in memory), the whole command's time (model, files, truths, manifest), records per
second of each, files, and memory: the largest single process, and the machine's (the largest
drop of MemAvailable while it ran: the model and every worker together). Results go to
bench/results/simulator-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
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
    peak = max(resource.getrusage(who).ru_maxrss  # this process or its largest worker
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


def _available_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


class MemoryWatch:
    """The lowest MemAvailable while a block runs (sampled every 0.2 s), as MB used."""

    def __enter__(self):
        self.base = self.low = _available_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.2):
            self.low = min(self.low, _available_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def used_mb(self) -> int:
        return self.base - self.low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="small,medium")
    parser.add_argument("--dir", help="folder for the landing zone (default: the system's "
                                      "temporary folder)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, Path(args.out))))
        return
    results = []
    for scale in args.scales.split(","):
        out = Path(tempfile.mkdtemp(prefix=f"lanhai-bench-sim-{scale}-", dir=args.dir))
        try:
            began = time.perf_counter()
            with MemoryWatch() as watch:
                proc = subprocess.run([sys.executable, __file__, "--one", scale, "--out",
                                       str(out)], check=True, capture_output=True, text=True)
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            figures["process_s"] = round(time.perf_counter() - began, 1)
            figures["machine_memory_used_mb"] = watch.used_mb
            figures["landing_dir"] = str(out.parent)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results.append(figures)
        print(f"{scale:7s} {figures['records']:>11,} records {figures['files']:>6,} files  "
              f"model {figures['model_s']:6.1f} s ({figures['model_records_per_s']:>10,}/s)  "
              f"total {figures['total_s']:6.1f} s ({figures['records_per_s']:>10,}/s)  "
              f"{figures['workers']} workers, largest process {figures['peak_rss_mb']:,} MB, "
              f"all {figures['machine_memory_used_mb']:,} MB", flush=True)
    dest = ROOT / "bench" / "results" / f"simulator-{datetime.now():%Y%m%dT%H%M%S}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(results, indent=1))
    print(f"results: {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
