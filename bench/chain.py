"""The whole chain's wall time, through Airflow and without it, and so Airflow's own overhead
(`make bench-chain`, SCALES=small,medium), on the embedded profile and on the cluster profile.

For each scale, from empty data folders (each its own catalog, in its own process): simulate
once; run the chain through Airflow (`lanhai.airflow_env.run_chain`: each domain's ingest DAG,
the quality gate, the dbt transform per layer, the weekly review; `dag.test()`
in one process, as `make demo` does); then, on a copy of the same landing files, the same work
called directly (ingest, the gate, `dbt build`, the report). Overhead = Airflow - direct.
With `--profiles local,cluster` (the default), the same files also go through the cluster
profile: PostgreSQL, a Spark master and two workers and Airflow's scheduler started from
nothing (`lanhai.cluster`), the chain triggered through Airflow's REST API (every domain's ingest
DAG, two at a time, then the gate, the transform per layer and the weekly review;
`lanhai.scheduler.run_chain`), then everything stopped by PID.
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
    """The same stages called in this process (lanhai.pipeline), without Airflow."""
    from lanhai import pipeline
    from lanhai.config import load_config

    config = load_config()
    start, end = _interval(config)
    began = time.perf_counter()
    stages = pipeline.run(config, start, end)
    out = {f"{name}_s": r["seconds"] for name, r in stages.items()}
    out["customer_value"] = stages["transform"]["customer_value"]
    out["direct_total_s"] = round(time.perf_counter() - began, 1)
    return out


def on_cluster() -> dict:
    """The chain through the cluster profile's scheduler, services started and stopped here."""
    import socket

    from lanhai import airflow_env, cluster
    from lanhai.config import load_config
    from lanhai.intervals import last_complete_week
    from lanhai.scheduler import AirflowApi, run_chain, when

    config = load_config()
    start, end = _interval(config)
    os.environ["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"  # only the runs made here
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.perf_counter()
    try:
        cluster.up(config)
        airflow_env.setup(config)
        airflow_env.up(config, port, services=("api-server", "scheduler", "dag-processor"))
        up_s = round(time.perf_counter() - began, 1)
        api = AirflowApi(f"http://127.0.0.1:{port}", airflow_env.admin_password(config))
        stages = run_chain(api, start, end, last_complete_week(end), timeout=4 * 3600,
                           progress=lambda m: print(m, file=sys.stderr, flush=True))
        apps = cluster.master_status(config)["completedapps"]
        # where the time goes: each task's seconds, as the scheduler recorded them
        try:
            tasks = {f"{t['dag_id'].removeprefix('lanhai_')}.{t['task_id']}":
                     round(when(t["end_date"]) - when(t["start_date"]), 1)
                     for t in api.task_instances() if t["start_date"] and t["end_date"]}
        except (OSError, KeyError, ValueError) as err:  # the leg's figures matter more
            tasks = {"unavailable": str(err)[:200]}
    finally:
        cluster.down(config)
    return {"cluster_up_s": up_s, **{f"cluster_{k}": v for k, v in stages.items()},
            "cluster_spark_apps": len(apps), "cluster_task_s": tasks}


def _child(mode: str, data: Path, profile: str = "local") -> dict:
    env = {**os.environ, "LANHAI_DATA_DIR": str(data), "LANHAI_PROFILE": profile}
    # stderr (the legs' progress: the cluster's stages as they end) goes to the terminal
    proc = subprocess.run([sys.executable, __file__, "--mode", mode], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        sys.stderr.write(proc.stdout[-3000:])
        raise SystemExit(f"chain bench ({mode}) failed in {data}")
    return json.loads(line[0][7:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="small")
    parser.add_argument("--profiles", default="local,cluster")
    parser.add_argument("--no-direct", action="store_true",
                        help="on the embedded profile, only the run through Airflow")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        run = {"airflow": through_airflow, "direct": direct, "cluster": on_cluster}[args.mode]
        print("RESULT " + json.dumps(run()), flush=True)
        return
    profiles = args.profiles.split(",")
    unknown = set(profiles) - {"local", "cluster"}
    if unknown:
        parser.error(f"unknown profile(s) {', '.join(sorted(unknown))}: local, cluster")
    results: list[dict] = []
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    for scale in args.scales.split(","):
        base = ROOT / "data" / "bench" / f"chain-{scale}"
        shutil.rmtree(base, ignore_errors=True)
        via, plain = base / "airflow", base / "direct"
        env = {**os.environ, "LANHAI_DATA_DIR": str(via), "LANHAI_PROFILE": "local"}
        subprocess.run([str(Path(sys.executable).with_name("lanhai")), "generate", "--scale",
                        scale, "--clean"], env=env, check=True, capture_output=True)
        for sub in ("landing", "simulator"):
            if not args.no_direct:
                shutil.copytree(via / sub, plain / sub)
            if "cluster" in profiles:
                shutil.copytree(via / sub, base / "cluster" / sub)
        res = {"scale": scale}
        results.append(res)
        for profile in profiles:  # in the order given: `--profiles cluster,local` puts it first
            if profile == "local":
                res.update(_child("airflow", via))
                if not args.no_direct:
                    res.update(_child("direct", plain))
                    res["airflow_overhead_s"] = round(res["airflow_total_s"]
                                                      - res["direct_total_s"], 1)
                    res["airflow_overhead_share"] = round(res["airflow_overhead_s"]
                                                          / res["airflow_total_s"], 3)
            elif profile == "cluster":
                res.update(_child("cluster", base / "cluster", profile="cluster"))
            if "cluster_total_s" in res and "airflow_total_s" in res:
                res["cluster_vs_embedded"] = round(res["cluster_total_s"]
                                                   / res["airflow_total_s"], 2)
            print(json.dumps(res, indent=1), file=sys.stderr, flush=True)
            _save(results, stamp)  # after each leg: a leg stopped later keeps the ones before
    print(json.dumps(results, indent=1), flush=True)


def _save(results: list[dict], stamp: str) -> Path:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"chain-{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    return path


if __name__ == "__main__":
    main()
