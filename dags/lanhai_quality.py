"""
### Quality gate: Great Expectations on silver
Runs when every silver table has been updated (an `AssetAll` of the ingests' `silver.*`
assets). Validates the rows of the interval the ingest runs carried (their asset events)
against suites built from `schemas/` and the business rules (`lanhai.quality.gate`). Results
go to `audit.quality_results`; Data Docs are rebuilt under
`data/quality/gx/uncommitted/data_docs/local_site/index.html`. A failed **critical** check fails
this run with the table, the rule and the row count, and the transform does not run for the
interval; warnings are recorded and shown, and do not stop it.
"""

from __future__ import annotations

from airflow.sdk import AssetAll, Metadata, dag, task

from lanhai import intervals
from lanhai.assets import SILVER, VALIDATED_SILVER
from lanhai.dag_defaults import SPARK_POOL, START, default_args
from lanhai.intervals import interval_extra, interval_of


@dag(
    dag_id="lanhai_quality",
    schedule=AssetAll(*SILVER.values()),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["lanhai", "quality"],
    params=intervals.params(),
    doc_md=__doc__ + intervals.PARAMS_DOC,
)
def lanhai_quality():
    @task(pool=SPARK_POOL, outlets=[VALIDATED_SILVER])
    def validate(**context):
        from lanhai.audit import record_run
        from lanhai.config import load_config
        from lanhai.quality.gate import QualityGateFailed, run_gate
        from lanhai.spark import get_spark

        config = load_config()
        spark = get_spark(config)
        start, end = interval_of(context)
        try:
            result = run_gate(spark, config, start, end)
        except QualityGateFailed as err:
            record_run(spark, config, context, "validate", "failed", None, {"error": str(err)})
            raise
        record_run(spark, config, context, "validate", "success", result.checks,
                   {"warnings": result.warnings, "docs": result.docs_index})
        yield Metadata(VALIDATED_SILVER, interval_extra(
            start, end, checks=result.checks, warnings=len(result.warnings)))

    validate()


lanhai_quality()
