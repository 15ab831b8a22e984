"""The weekly operating review, built by Airflow every Monday 09:00 Asia/Shanghai once the
dag `lanhai_transform` has built the marts for the week (see lanhai.orchestration)."""

from lanhai.orchestration import weekly_review_dag

dag = weekly_review_dag()
