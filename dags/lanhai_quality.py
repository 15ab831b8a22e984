"""Airflow DAG: the Great Expectations gate on silver (lanhai.quality.gate)."""

from lanhai.orchestration import quality_dag

dag = quality_dag()
