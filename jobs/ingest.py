"""Run the ingest jobs in order, and the landing zone's retention."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from lanhai.config import Config
from lanhai.spark import get_spark

log = logging.getLogger(__name__)

JOBS = ("bronze", "silver", "ingest", "retention", "replay")


def run_job(job: str, config: Config, entities: list[str] | None = None,
            on_batch=None) -> dict:
    """Run one job by name in this process's Spark session."""
    from lanhai.jobs import silver

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
    layers = {"bronze": ["bronze"], "silver": ["silver"], "ingest": ["bronze", "silver"]}
    if job in layers:
        out.update(load(spark, config, layers[job], entities, run_id, on_batch))
    if job == "replay":
        out["silver"] = silver.replay(spark, config, entities, run_id)
    if job in ("retention", "ingest"):
        out["retention"] = apply_retention(config)
    out["seconds"] = round(time.perf_counter() - began, 1)
    return out


def load(spark, config: Config, layers: list[str], entities: list[str] | None, run_id: str,
         on_batch=None) -> dict:
    """Load each entity into bronze, then silver, `ingest.threads` entity loads at a time in
    this process's Spark application (a session per load).

    A day's load of one entity is dozens of small Spark jobs and Delta commits, with the
    driver's planning, the log and the catalog between them: two cores are idle part of the
    time one entity loads, and less when three do (a `medium` day, warm: ~150 s one at a time,
    ~100 s three at a time; BENCHMARKS.md "Entities at once"). An entity's silver load waits
    for its own bronze load and for the silver loads of the entities it reads
    (`silver.references_of`: the ones it references, FX for orders) that come before it in
    landing order, so what it flags as not in silver yet is what a load one entity after
    another flags. A load that fails stops only the loads that wait for it; the others
    finish, then the first error is raised (every failure is logged with its entity).
    Returns {"bronze": [...], "silver": [...]} in landing order, and "timings": seconds per
    entity and layer."""
    from lanhai.jobs import bronze, silver

    cs = {c.entity: c for c in bronze.ordered_contracts(entities)}
    order = list(cs)
    if "bronze" in layers:
        bronze.prepare(spark, config, entities)
    if "silver" in layers:
        silver.prepare(spark, config)
    waits: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for e, c in cs.items():
        if "bronze" in layers:
            waits[("bronze", e)] = set()
        if "silver" in layers:
            # the references loaded before it in landing order, as one entity after another
            # did: what it flags as not in silver yet is unchanged (and no cycle can form)
            waits[("silver", e)] = ({("bronze", e)} if "bronze" in layers else set()) | {
                ("silver", r) for r in silver.references_of(c)
                if r in cs and order.index(r) < order.index(e)}
    report = {
        "bronze": (lambda e, b, f, r: on_batch("bronze", e, r)) if on_batch else None,
        "silver": (lambda e, b, st: on_batch("silver", e, st["landed"])) if on_batch else None}

    context = spark.sparkContext._jsc.sc()
    caller = context.getLocalProperties()
    sessions: list = []

    def one(key: tuple[str, str]) -> dict:
        layer, e = key
        # The caller's job properties, a copy per load (Spark's job description and SQL ids
        # are per thread; one shared copy would label one load's jobs with another's).
        context.setLocalProperties(caller.clone())
        # A session of its own (the same catalog, jars and settings): a load sets session
        # settings for its commits (a MERGE's user metadata, silver's replay tag), which must
        # not reach another load's commits made at the same time.
        session = spark.newSession()
        sessions.append(session)
        session.sparkContext.setJobDescription(f"ingest {layer} {e}")
        module = bronze if layer == "bronze" else silver
        return module.run_entity(session, config, cs[e], run_id, report[layer])

    def stop() -> None:  # an interrupt: the loads' streaming queries stop where they are
        for session in sessions:
            for query in session.streams.active:
                query.stop()

    threads = max(1, int(config.raw.get("ingest", {}).get("threads", 1)))
    results, seconds = run_in_order(waits, one, threads, stop=stop,
                                    priority=lambda k: (order.index(k[1]), k[0]))
    out: dict = {layer: [results[(layer, e)] for e in order] for layer in layers}
    out["timings"] = {}
    for (layer, e), t in seconds.items():
        out["timings"].setdefault(e, {})[layer] = t
    return out


def run_in_order(waits: dict, run, threads: int, priority=None,
                 stop=None) -> tuple[dict, dict]:
    """Run `run(key)` for every key of `waits`, at most `threads` at once, each after the keys
    it waits for (`waits[key]`, a set) have finished; among the ready ones, the lowest
    `priority(key)` first. Returns ({key: result}, {key: seconds}).

    A key that raises stops only the keys that wait for it, directly or not (they are not
    run); the others run to the end, then the first error is raised, every failure (with its
    traceback) and skipped key having been logged. An interrupt (Ctrl-C, a task's SIGTERM)
    while keys run calls `stop()` (which should end the running ones), starts nothing more
    and is raised once the running keys have returned."""
    priority = priority or (lambda k: 0)
    results: dict = {}
    seconds: dict = {}
    failed: dict = {}
    pending = {k: set(w) for k, w in waits.items()}
    unknown = {w for ws in pending.values() for w in ws} - pending.keys()
    if unknown:
        raise ValueError(f"waits for keys that are not run: {sorted(unknown, key=str)}")

    def timed(key):
        began = time.perf_counter()
        return run(key), round(time.perf_counter() - began, 1)

    pool = ThreadPoolExecutor(threads, thread_name_prefix="ingest")
    running: dict = {}
    try:
        while pending or running:
            blocked = [k for k, w in pending.items() if w & failed.keys()]
            while blocked:  # and what waits for them, in turn
                for key in blocked:
                    waited = ", ".join(map(_name, sorted(pending[key] & failed.keys(), key=str)))
                    failed[key] = SkippedLoad(f"{_name(key)}: not run, it waits for {waited}, "
                                              f"which did not finish")
                    log.error("%s", failed[key])
                    del pending[key]
                blocked = [k for k, w in pending.items() if w & failed.keys()]
            ready = sorted((k for k, w in pending.items() if not w - results.keys()),
                           key=priority)
            for key in ready[:threads - len(running)]:
                del pending[key]
                running[pool.submit(timed, key)] = key
            if not running:
                if pending:  # a cycle: nothing runs and nothing can start
                    raise ValueError(f"the keys wait for each other: {sorted(pending, key=str)}")
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                try:
                    results[key], seconds[key] = future.result()
                except Exception as err:  # noqa: BLE001 - raised below, after the others
                    log.error("%s failed: %s", _name(key), err, exc_info=err)
                    failed[key] = err
    except BaseException:
        if running and stop is not None:
            log.warning("interrupted: stopping %s", ", ".join(map(_name, running.values())))
            stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failed:
        raise next(e for e in failed.values() if not isinstance(e, SkippedLoad))
    return results, seconds


def _name(key) -> str:
    return " ".join(key) if isinstance(key, tuple) else str(key)


class SkippedLoad(RuntimeError):
    """A load that was not run because one it waits for failed."""


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
