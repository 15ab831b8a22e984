"""Benchmarks at each scale (`make bench`): simulator records/s, ingest rows/s, `dbt build`,
the incremental dbt run for one more simulated day against a full refresh, and the
single-node baseline (bench/baseline.py: DuckDB straight from the same landing files), its
KPIs checked equal to the marts and the pipeline's time over the baseline's per stage.

Each scale runs in its own process and data folder (one catalog per Spark JVM), from an empty
lake: simulate; ingest everything but the last day; `dbt build`; land the last day, ingest it,
`dbt build` incrementally; then `dbt build --full-refresh`; then the baseline over the whole
landing zone, compared with marts.mart_weekly_review. After the ingest, the engine's own
limit: the same files read by Spark's plain readers and appended to Delta, no rules and no
MERGE (`engine_limit`), against which the ingest's records/s is judged. Results are printed
(a table of the ratios last) and written to bench/results/<timestamp>.json.
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


def _timed(fn, *args):
    """Run fn(*args); return (result, seconds), and say how long it took on stderr as it
    happens (a long scale that is stopped still leaves its figures so far)."""
    t = time.perf_counter()
    out = fn(*args)
    seconds = round(time.perf_counter() - t, 1)
    name = getattr(fn, "__name__", "step")
    detail = args[0] if args and isinstance(args[0], str) else (args[1] if len(args) > 1 else "")
    print(f"  {datetime.now():%H:%M:%S} {name} {detail}: {seconds} s", file=sys.stderr,
          flush=True)
    return out, seconds


def _dbt_breakdown(config) -> dict:
    """Where the last dbt invocation spent its time: models vs tests (summed node times: with
    dbt's `threads: 2` two nodes run at once, so the sums exceed the run's wall time), and the
    slowest nodes."""
    results = json.loads((config.path("dbt") / "target" / "run_results.json").read_text())
    nodes = results["results"]

    def total(kind: str) -> float:
        return round(sum(n["execution_time"] for n in nodes
                         if n["unique_id"].split(".")[0] == kind), 1)

    slowest = sorted(nodes, key=lambda n: -n["execution_time"])[:8]
    return {"models_s": total("model"), "tests_s": total("test"),
            "unit_tests_s": total("unit_test"),
            "slowest": {n["unique_id"].split(".", 2)[2]: round(n["execution_time"], 1)
                        for n in slowest}}


def one(scale: str) -> dict:
    """Simulate, ingest and build the marts at one scale in this process; return figures."""
    import shutil
    from datetime import timedelta

    from lanhai.config import load_config
    from lanhai.dbt import PRODUCTION_FLAGS, run_dbt
    from lanhai.jobs.ingest import run_job
    from lanhai.simulator import simulate
    from lanhai.spark import get_spark

    config = load_config()
    sim = config.raw["simulator"]
    start = date.fromisoformat(sim["start"])
    result, gen_s = _timed(lambda: simulate(
        config.landing, config.path("simulator"), start=start, days=sim["days"], scale=scale,
        seed=sim["seed"], defects=sim["defects"]))
    last_day = (start + timedelta(days=sim["days"] - 1)).isoformat()
    held = config.data_dir / "held_back"
    last_files = sorted(config.landing.glob(f"*/*/dt={last_day}/*"))
    for f in last_files:
        dest = held / f.relative_to(config.landing)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f, dest)
    _, session_s = _timed(get_spark, config)
    bronze, bronze_s = _timed(run_job, "bronze", config)
    silver, silver_s = _timed(run_job, "silver", config)
    limit = engine_limit(get_spark(config), config)
    again, noop_s = _timed(run_job, "ingest", config)
    # as production runs it (the transform DAG): dbt's unit tests are the test suite's
    ok, dbt_s = _timed(run_dbt, config, ["build", *PRODUCTION_FLAGS])
    assert ok, "dbt build failed"
    build_nodes = _dbt_breakdown(config)
    for f in last_files:
        shutil.move(held / f.relative_to(config.landing), f)
    _, day_ingest_s = _timed(run_job, "ingest", config)
    ok, incremental_s = _timed(run_dbt, config, ["build", *PRODUCTION_FLAGS])
    assert ok, "incremental dbt build failed"
    incremental_nodes = _dbt_breakdown(config)
    ok, full_s = _timed(run_dbt, config, ["build", "--full-refresh", *PRODUCTION_FLAGS])
    assert ok, "dbt build --full-refresh failed"
    full_nodes = _dbt_breakdown(config)
    base = _baseline(config, get_spark(config))
    rows = result.rows
    ingested = sum(r.get("rows", 0) for r in bronze["bronze"])
    return {
        "scale": scale, "records": rows, "files": result.files,
        "orders": result.manifest["calibration"]["paid_orders"],
        "simulate_s": gen_s, "simulate_records_per_s": round(rows / gen_s),
        "spark_session_s": session_s,
        "bronze_s": bronze_s, "bronze_rows_per_s": round(ingested / bronze_s),
        "silver_s": silver_s, "silver_rows_per_s": round(ingested / silver_s),
        "ingest_rows_per_s": round(ingested / (bronze_s + silver_s)),
        "engine_limit": limit,
        "ingest_over_engine_limit": round((bronze_s + silver_s) / limit["seconds"], 1),
        "noop_rerun_s": noop_s,
        "bronze_rows": ingested,
        "silver_landed": sum(r.get("landed", 0) for r in silver["silver"]),
        "rerun_landed": sum(r.get("landed", 0) for r in again["silver"]),
        "dbt_build_s": dbt_s,
        "one_day_ingest_s": day_ingest_s,
        "dbt_incremental_one_day_s": incremental_s,
        "dbt_full_refresh_s": full_s,
        "incremental_to_full_ratio": round(incremental_s / full_s, 2),
        "dbt_build_nodes": build_nodes,
        "dbt_incremental_nodes": incremental_nodes,
        "dbt_full_refresh_nodes": full_nodes,
        "baseline": base,
        "pipeline_over_baseline": {
            "landing_to_tables": round((bronze_s + silver_s)
                                       / (base["load_s"] + base["prepare_s"]), 1),
            "kpis": round(dbt_s / base["kpis_s"], 1),
            "everything": round((bronze_s + silver_s + dbt_s) / base["total_s"], 1),
            "one_more_day": round((day_ingest_s + incremental_s) / base["total_s"], 1)},
    }


def engine_limit(spark, config) -> dict:
    """The engine's own limit on this machine (issue 15.3): every entity's landing files read
    by Spark's plain reader for the contract's format (every field as text, as bronze keeps
    it; no rules, no lineage, no tokens) and appended to a scratch Delta table, one entity
    after the other; no MERGE, no quarantine. Returns the seconds, the records and records/s."""
    from pyspark.sql.types import StringType, StructField, StructType

    from lanhai.contracts import contracts

    spark.sql("create database if not exists bench_limit")
    records, per_entity = 0, {}
    for name, c in contracts().items():
        folder = config.landing / c.landing_subdir
        if not folder.exists():
            continue
        began = time.perf_counter()
        text = StructType([StructField(n, StringType()) for n in c.names])
        if c.format == "csv":
            df = spark.read.csv(str(folder), header=True, schema=text)
        elif c.format == "jsonl":
            df = spark.read.json(str(folder), schema=text)
        else:
            df = spark.read.parquet(str(folder))
        target = f"bench_limit.{name}"
        spark.sql(f"drop table if exists {target}")
        df.write.format("delta").mode("append").saveAsTable(target)
        took = time.perf_counter() - began  # the count below is not the engine's load
        n = spark.table(target).count()
        records += n
        per_entity[name] = {"records": n, "seconds": round(took, 1)}
    seconds = round(sum(e["seconds"] for e in per_entity.values()), 1)
    for name in per_entity:
        spark.sql(f"drop table if exists bench_limit.{name}")
    print(f"  {datetime.now():%H:%M:%S} engine limit (plain read + Delta append): {seconds} s, "
          f"{records:,} records", file=sys.stderr, flush=True)
    return {"seconds": seconds, "records": records,
            "records_per_s": round(records / seconds) if seconds else None,
            "entities": per_entity}


def _baseline(config, spark) -> dict:
    """The baseline over the landing zone the marts were built from, and its rows against the
    weekly review's: equal, or the bench fails."""
    sys.path.insert(0, str(ROOT / "bench"))
    import baseline

    keys, review_differences = baseline.ref.KEYS, baseline.ref.review_differences

    seconds: dict = {}
    t = time.perf_counter()
    want = baseline.review(config.landing, seconds).to_dict("records")
    seconds["total_s"] = round(time.perf_counter() - t, 1)
    print(f"  {datetime.now():%H:%M:%S} baseline (DuckDB from the landing files): "
          f"{seconds['total_s']} s", file=sys.stderr, flush=True)
    got = [r.asDict() for r in spark.table(config.table("marts", "mart_weekly_review"))
           .select(*keys, "value", "numerator", "denominator").collect()]
    diff = review_differences(want, got)
    counts = {k: len(v) for k, v in diff.items()}
    assert counts == {"missing": 0, "extra": 0, "different": 0}, (
        f"the marts and the baseline differ: {counts}, e.g. "
        f"{[v[:3] for v in diff.values()]}")
    return {**seconds, "kpi_rows": len(want), "equal_to_marts": True}


def table(results: list[dict]) -> str:
    """The pipeline against the baseline, a line per scale and stage."""
    lines = ["| scale | stage | pipeline s | baseline s | pipeline / baseline |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        b = r["baseline"]
        if "engine_limit" in r:  # the engine alone, in place of the baseline's column
            e = r["engine_limit"]
            lines.append(f"| {r['scale']} | landing -> Delta, Spark alone (plain read + "
                         f"append, {e['records_per_s']:,} records/s) against the pipeline's "
                         f"{r['ingest_rows_per_s']:,} | {r['bronze_s'] + r['silver_s']:.1f} | "
                         f"{e['seconds']:.1f} | {r['ingest_over_engine_limit']:.1f} |")
        stages = (
            ("landing -> typed tables", r["bronze_s"] + r["silver_s"],
             b["load_s"] + b["prepare_s"]),
            ("KPIs (dbt build / DuckDB SQL)", r["dbt_build_s"], b["kpis_s"]),
            ("everything", r["bronze_s"] + r["silver_s"] + r["dbt_build_s"], b["total_s"]),
            ("one more day (ingest + incremental build)",
             r["one_day_ingest_s"] + r["dbt_incremental_one_day_s"], b["total_s"]))
        lines += [f"| {r['scale']} | {name} | {p:.1f} | {q:.1f} | {p / q:.1f} |"
                  for name, p, q in stages]
    return "\n".join(lines)


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
                              stdout=subprocess.PIPE, text=True, check=False)  # stderr: live
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            sys.stderr.write(proc.stdout[-3000:])
            raise SystemExit(f"bench {scale} failed")
        res = json.loads(line[0][7:])
        results.append(res)
        print(json.dumps(res, indent=1), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (out / f"{stamp}.json").write_text(json.dumps(results, indent=1))
    print("\nThe pipeline against the single-node baseline (KPIs equal at every scale):\n"
          + table(results), flush=True)


if __name__ == "__main__":
    main()
