"""Airflow DAG: ingest the transaction domain daily (lanhai.orchestration)."""

from lanhai.orchestration import ingest_dag

dag = ingest_dag("transaction")
