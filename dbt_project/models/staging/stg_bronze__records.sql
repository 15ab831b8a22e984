-- Every landed record's lineage (entity, domain, file, landing date, ingestion time), one row
-- per bronze row: the base of the data-quality mart's "rows landed". No payload, so no PII.
-- One branch per source entity (macros/bronze_entities.sql, generated from schemas/).
{%- for domain, entity in bronze_entities() %}
    select
        '{{ domain }}' as domain,
        '{{ entity }}' as entity,
        _source_file as source_file,
        _dt as landing_date,
        _ingested_at as ingested_at
    from {{ source('bronze', entity) }}
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
