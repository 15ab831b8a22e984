-- Every landed record's lineage (entity, domain, file, landing date, ingestion time), one row
-- per bronze row: the base of the data-quality mart's "rows landed". No payload, so no PII.
-- Keep the list in step with schemas/ (a test checks it).
{%- set entities = [
    ('user', 'users'), ('product', 'merchants'), ('product', 'categories'),
    ('product', 'skus'), ('transaction', 'orders'), ('transaction', 'refunds'),
    ('logistics', 'shipments'), ('logistics', 'inventory'), ('logistics', 'warehouses'),
    ('marketing', 'spend'), ('fx', 'fx_rates'),
] %}
{%- for domain, entity in entities %}
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
