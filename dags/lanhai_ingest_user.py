"""Airflow DAG: ingest the user domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("user")
