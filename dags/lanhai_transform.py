"""The dbt marts as Airflow tasks, via astronomer-cosmos (see lanhai.orchestration)."""

from lanhai.orchestration import transform_dag

dag = transform_dag()
