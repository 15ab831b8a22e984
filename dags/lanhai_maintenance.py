"""Airflow DAG: weekly Delta OPTIMIZE and VACUUM of the lake (lanhai.orchestration)."""

from lanhai.orchestration import maintenance_dag

dag = maintenance_dag()
