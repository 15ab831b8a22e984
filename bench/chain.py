"""The whole chain's wall time, through Airflow and without it, and so Airflow's own overhead
(`make bench-chain`, SCALES=small,medium).

For each scale, from empty data folders (each its own catalog, in its own process): simulate
once; run the chain through Airflow (`lanhai.airflow_env.run_chain`: each domain's ingest DAG,
the quality gate, the dbt transform with one task per model, the weekly review; `dag.test()`
in one process, as `make demo` does); then, on a copy of the same landing files, the same work
called directly (ingest, the gate, `dbt build`, the report). Overhead = Airflow - direct.
Results go to bench/results/chain-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _interval(config) -> tuple[date, date]:
    from lanhai.simulator import load_manifest

    params = load_manifest(config.path("simulator"))["params"]
    start = date.fromisoformat(params["start"])
    return start, start + timedelta(days=int(params["days"]) - 1)


def through_airflow() -> dict:
    from lanhai.airflow_env import run_chain
    from lanhai.config import load_config

    config = load_config()
    start, end = _interval(config)
    began = time.perf_counter()
    results = run_chain(config, start, end)
    total = time.perf_counter() - began
    return {"airflow_total_s": round(total, 1),
            "airflow_by_dag_s": {k: v[1] for k, v in results.items()},
            "tasks": sum(len(v[2]) for v in results.values())}


def direct() -> dict:
    from lanhai.airflow_env import last_complete_week
    from lanhai.config import load_config
    from lanhai.dbt import run_dbt
    from lanhai.jobs.ingest import run_job
    from lanhai.quality.gate import run_gate
    from lanhai.report import build_report
    from lanhai.spark import get_spark

    config = load_config()
    start, end = _interval(config)
    out = {}
    began = time.perf_counter()
    t = time.perf_counter()
    spark = get_spark(config)
    run_job("ingest", config)
    out["ingest_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    run_gate(spark, config, start, end)
    out["gate_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    assert run_dbt(config, ["build"]), "dbt build failed"
    out["dbt_build_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    build_report(spark, config, week=last_complete_week(end))
    out["report_s"] = round(time.perf_counter() - t, 1)
    out["direct_total_s"] = round(time.perf_counter() - began, 1)
    return out


def _child(mode: str, data: Path) -> dict:
    env = {**os.environ, "LANHAI_DATA_DIR": str(data), "LANHAI_PROFILE": "local"}
    proc = subprocess.run([sys.executable, __file__, "--mode", mode], env=env,
                          capture_output=True, text=True, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"chain bench ({mode}) failed in {data}")
    return json.loads(line[0][7:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="small")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(through_airflow() if args.mode == "airflow"
                                     else direct()), flush=True)
        return
    results = []
    for scale in args.scales.split(","):
        base = ROOT / "data" / "bench" / f"chain-{scale}"
        shutil.rmtree(base, ignore_errors=True)
        via, plain = base / "airflow", base / "direct"
        env = {**os.environ, "LANHAI_DATA_DIR": str(via), "LANHAI_PROFILE": "local"}
        subprocess.run([str(Path(sys.executable).with_name("lanhai")), "generate", "--scale",
                        scale, "--clean"], env=env, check=True, capture_output=True)
        for sub in ("landing", "simulator"):
            shutil.copytree(via / sub, plain / sub)
        res = {"scale": scale, **_child("airflow", via), **_child("direct", plain)}
        res["airflow_overhead_s"] = round(res["airflow_total_s"] - res["direct_total_s"], 1)
        res["airflow_overhead_share"] = round(res["airflow_overhead_s"]
                                              / res["airflow_total_s"], 3)
        results.append(res)
        print(json.dumps(res, indent=1), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (out / f"chain-{stamp}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
