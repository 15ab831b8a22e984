"""Benchmarks: simulator records/s and ingest rows/s at each scale (`make bench`).

Each scale runs in its own process and data folder (one catalog per Spark JVM), from an empty
lake. Results are printed and written to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(scale: str) -> dict:
    """Simulate and ingest one scale in this process; return its figures."""
    from lanhai.config import load_config
    from lanhai.jobs.ingest import run_job
    from lanhai.simulator import simulate

    config = load_config()
    sim = config.raw["simulator"]
    t = time.perf_counter()
    result = simulate(config.landing, config.path("simulator"),
                      start=date.fromisoformat(sim["start"]), days=sim["days"], scale=scale,
                      seed=sim["seed"], defects=sim["defects"])
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    from lanhai.spark import get_spark

    get_spark(config)
    session_s = time.perf_counter() - t
    t = time.perf_counter()
    bronze = run_job("bronze", config)
    bronze_s = time.perf_counter() - t
    t = time.perf_counter()
    silver = run_job("silver", config)
    silver_s = time.perf_counter() - t
    t = time.perf_counter()
    again = run_job("ingest", config)
    noop_s = time.perf_counter() - t
    rows = result.rows
    return {
        "scale": scale, "records": rows, "files": result.files,
        "orders": result.manifest["calibration"]["paid_orders"],
        "simulate_s": round(gen_s, 1), "simulate_records_per_s": round(rows / gen_s),
        "spark_session_s": round(session_s, 1),
        "bronze_s": round(bronze_s, 1), "bronze_rows_per_s": round(rows / bronze_s),
        "silver_s": round(silver_s, 1), "silver_rows_per_s": round(rows / silver_s),
        "ingest_rows_per_s": round(rows / (bronze_s + silver_s)),
        "noop_rerun_s": round(noop_s, 1),
        "bronze_rows": sum(r.get("rows", 0) for r in bronze["bronze"]),
        "silver_landed": sum(r.get("landed", 0) for r in silver["silver"]),
        "rerun_landed": sum(r.get("landed", 0) for r in again["silver"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="small,medium")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(args.one)), flush=True)
        return
    results = []
    for scale in args.scales.split(","):
        data = ROOT / "data" / "bench" / scale
        subprocess.run(["rm", "-rf", str(data)], check=True)
        env = {**os.environ, "LANHAI_DATA_DIR": str(data), "LANHAI_PROFILE": "local"}
        proc = subprocess.run([sys.executable, __file__, "--one", scale], env=env,
                              capture_output=True, text=True, check=False)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit(f"bench {scale} failed")
        res = json.loads(line[0][7:])
        results.append(res)
        print(json.dumps(res, indent=1), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (out / f"{stamp}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
