"""Airflow DAG: ingest the logistics domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("logistics")
