"""Airflow DAG: ingest the product domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("product")
