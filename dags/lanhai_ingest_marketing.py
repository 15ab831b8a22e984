"""Airflow DAG: ingest the marketing domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("marketing")
