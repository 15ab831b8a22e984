-- Bronze's rows counted per landed file (a file lands in one dt= folder): the data-quality
-- mart takes its counts and latest dates from these few thousand rows. A table, not a view:
-- Spark inlines a view (or a CTE) into each of its readers, and the mart read every bronze
-- row of the seventeen tables four times.
{{ config(materialized='table') }}

select
    domain,
    entity,
    source_file,
    landing_date,
    count(*) as rows_landed,
    max(ingested_at) as latest_ingested_at
from {{ ref('stg_bronze__records') }}
group by domain, entity, source_file, landing_date
