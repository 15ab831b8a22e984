"""
### Ingest: one source domain, daily
New files of the domain's entities under `landing/<domain>/<entity>/dt=YYYY-MM-DD/` go to
bronze (each file once, PII tokenised) and silver (typed by the contract, deduplicated, bad
rows quarantined with the file, row and rule). Each run writes its row accounting to
`audit.ingest_runs` and `audit.pipeline_runs`, and updates the domain's `silver.<table>`
assets with the interval it covered: when every silver table is updated, the quality gate
runs. Then `freshness` (no Spark, no slot of the pool: delta-rs reads bronze) fails when an
entity's latest landing is older than its deadline (`quality.freshness_days`, per entity
`quality.freshness_days_by_entity`).

This file defines one DAG per domain of `schemas/` (`lanhai_ingest_user`, ...): the domains
ingest side by side where the catalog admits it (the cluster profile).
"""

from __future__ import annotations

from airflow.sdk import Metadata, dag, task

from lanhai import intervals
from lanhai.assets import SILVER
from lanhai.contracts import contracts, domain_tables
from lanhai.dag_defaults import SPARK_POOL, START, default_args, log
from lanhai.intervals import interval_extra, interval_of


def ingest_dag(domain: str, tables: list[str]) -> None:
    entities = [t for t in tables if t in contracts()]

    @dag(
        dag_id=f"lanhai_ingest_{domain}",
        schedule="@daily",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["lanhai", "ingest", domain],
        params=intervals.params(),
        doc_md=__doc__ + f"\nThis DAG: the **{domain}** domain, entities "
                         f"{', '.join(f'`{e}`' for e in entities)}; silver tables "
                         f"{', '.join(f'`{t}`' for t in tables)}.\n" + intervals.PARAMS_DOC,
    )
    def ingest_domain():
        @task(pool=SPARK_POOL, outlets=[SILVER[t] for t in tables])
        def ingest(**context):
            from lanhai.audit import record_run
            from lanhai.config import load_config
            from lanhai.jobs.ingest import run_job
            from lanhai.spark import get_spark

            config = load_config()
            start, end = interval_of(context)
            out = run_job("ingest", config, entities)
            landed = {r["entity"]: r.get("landed", 0) for r in out["silver"]}
            quarantined = sum(r.get("quarantined", 0) for r in out["silver"])
            record_run(get_spark(config), config, context, "ingest", "success",
                       sum(landed.values()), {"silver": out["silver"]})
            log.info("ingest %s %s..%s: landed %s, quarantined %s", domain, start, end, landed,
                     quarantined)
            for t in tables:
                yield Metadata(SILVER[t], interval_extra(start, end, rows=landed.get(t, 0)))

        @task(trigger_rule="all_done")
        def freshness(**context):
            from airflow.exceptions import AirflowFailException

            from lanhai.config import load_config
            from lanhai.freshness import late_entities

            _, end = interval_of(context)
            late = late_entities(load_config(), entities, end) if end else []
            if late:
                msg = "; ".join(f"{e}: latest landing {d or 'none'}" for e, d in late)
                raise AirflowFailException(f"LANHAI LATE DATA {domain} (deadline per entity in "
                                           f"conf quality.freshness_*) before {end}: {msg}")

        ingest() >> freshness()

    ingest_domain()


for _domain, _tables in domain_tables().items():
    ingest_dag(_domain, _tables)
