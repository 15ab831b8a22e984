"""Airflow DAG: ingest the fx domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("fx")
