"""The Airflow assets that link the DAGs, one constant each: each ingest updates its silver
tables, the quality gate runs when all of them are updated and updates VALIDATED_SILVER, the
transform runs on that and updates MARTS, the weekly review waits for MARTS and updates
REPORTS (the quarterly review, QUARTERLY_REPORTS). Every event carries the business interval
it covers (lanhai.intervals)."""

from __future__ import annotations

from airflow.sdk import Asset

from lanhai.contracts import domain_tables

SILVER = {table: Asset(name=f"silver.{table}", uri=f"lanhai://silver/{table}", group="silver")
          for tables in domain_tables().values() for table in tables}
VALIDATED_SILVER = Asset(name="quality.silver_validated", uri="lanhai://quality/silver_validated",
                         group="quality")
MARTS = Asset(name="marts.weekly_review", uri="lanhai://marts/weekly_review", group="marts")
REPORTS = Asset(name="reports.weekly_review", uri="lanhai://reports/weekly_review",
                group="reports")
QUARTERLY_REPORTS = Asset(name="reports.quarterly_review",
                          uri="lanhai://reports/quarterly_review", group="reports")
