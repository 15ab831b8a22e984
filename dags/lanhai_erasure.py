"""Airflow DAG: PIPL erasure of the users given at trigger time (lanhai.orchestration)."""

from lanhai.orchestration import erasure_dag

dag = erasure_dag()
