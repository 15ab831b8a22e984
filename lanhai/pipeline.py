"""The pipeline: its stages and their order, written once.

    ingest -> gate -> transform (dbt build, then customer value) -> report

Airflow runs each stage as DAGs linked by assets (`DAGS`, one file each in dags/);
`run` runs them one after the other in this process, on its Spark session, for
`lanhai demo --direct` and the benchmarks. Either way the same functions do the work, and a
stage that fails stops the ones after it (a critical quality failure stops the marts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from lanhai.config import Config


@dataclass(frozen=True)
class Stage:
    name: str
    what: str

    def dag_ids(self) -> list[str]:
        """The DAGs that run this stage under Airflow."""
        if self.name == "ingest":
            from lanhai.contracts import domain_tables

            return [f"lanhai_ingest_{d}" for d in domain_tables()]
        return [DAGS[self.name]]


STAGES = (
    Stage("ingest", "new landed files -> bronze -> silver, each domain"),
    Stage("gate", "Great Expectations on silver for the interval; a critical failure stops"),
    Stage("transform", "dbt build (staging -> marts), then the customer-value fits"),
    Stage("report", "the weekly review of the last week the data covers (HTML, PDF, zh, en)"),
)
DAGS = {"gate": "lanhai_quality", "transform": "lanhai_transform",
        "report": "lanhai_weekly_review"}


def dag_chain() -> list[str]:
    """Every DAG of one pass over the data, in the stages' order."""
    return [d for s in STAGES for d in s.dag_ids()]


class StageFailed(RuntimeError):
    """A stage did not succeed; the stages after it were not run."""


def ingest(config: Config, start: date, end: date, say: Callable[[str], None]) -> dict:
    from lanhai.jobs.ingest import run_job

    return run_job("ingest", config,
                   on_batch=lambda layer, entity, n: say(f"  {layer}.{entity}: {n} records"))


def gate(config: Config, start: date, end: date, say: Callable[[str], None]) -> dict:
    from lanhai.quality.gate import QualityGateFailed, run_gate
    from lanhai.spark import get_spark

    try:
        result = run_gate(get_spark(config), config, start, end)
    except QualityGateFailed as err:
        raise StageFailed(f"the quality gate stopped the marts: {err}") from err
    return {"checks": result.checks, "warnings": result.warnings}


def transform(config: Config, start: date, end: date, say: Callable[[str], None]) -> dict:
    from lanhai.dbt import PRODUCTION_FLAGS, run_dbt
    from lanhai.landed import record_build, record_build_passed
    from lanhai.spark import get_spark

    build_id = record_build(get_spark(config), config)  # the freshness measure's build start
    began = time.perf_counter()
    if not run_dbt(config, ["build", *PRODUCTION_FLAGS]):
        raise StageFailed(f"dbt build failed: see {config.path('dbt') / 'logs'}")
    record_build_passed(get_spark(config), config, build_id)  # the next run's tests start here
    return {"dbt": "build", "dbt_seconds": round(time.perf_counter() - began, 1),
            "customer_value": customer_value(config, say),
            "ab_readout": ab_readout(config, say)}


def ab_readout(config: Config, say: Callable[[str], None] | None = None) -> dict:
    from lanhai.jobs.ab_readout import run
    from lanhai.spark import get_spark

    return run(get_spark(config), config, progress=say)


def customer_value(config: Config, say: Callable[[str], None] | None = None) -> dict:
    from lanhai.jobs.customer_value import run
    from lanhai.spark import get_spark

    return run(get_spark(config), config, progress=say)


def report(config: Config, start: date, end: date, say: Callable[[str], None]) -> dict:
    from lanhai.intervals import last_complete_week
    from lanhai.report import build_report
    from lanhai.spark import get_spark

    week = last_complete_week(end)
    build_report(get_spark(config), config, week=week, progress=say)
    return {"week": week}


RUNNERS = {"ingest": ingest, "gate": gate, "transform": transform, "report": report}


def run(config: Config, start: date, end: date, stages: list[str] | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Run the stages (all, in order, or those named) over [start, end] in this process.
    Returns {stage: {..., "seconds": s}}; raises StageFailed naming the stage that failed."""
    say = progress or (lambda _m: None)
    names = [s.name for s in STAGES]
    unknown = sorted(set(stages or []) - set(names))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; the stages are {names}")
    out: dict[str, dict] = {}
    for stage in STAGES:
        if stages and stage.name not in stages:
            continue
        say(f"{stage.name}: {stage.what}")
        began = time.perf_counter()
        result = RUNNERS[stage.name](config, start, end, say)
        out[stage.name] = {**(result or {}), "seconds": round(time.perf_counter() - began, 1)}
    return out
