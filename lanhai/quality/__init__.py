"""Data quality: the Great Expectations gate on silver and where its results are kept.

`audit.quality_results` holds one row per expectation and run; the data-quality mart reads it.
The ingest job creates the table (empty) so that the marts build before the first gate runs.
"""

QUALITY_RESULTS_COLUMNS = (
    "run_id string, checked_at timestamp, interval_start date, interval_end date, "
    "domain string, table_name string, expectation string, rule string, severity string, "
    "success boolean, element_count long, unexpected_count long, details string"
)
