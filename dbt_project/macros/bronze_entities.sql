{#- Generated from schemas/ by `lanhai dbt-sources`: do not edit. Every source
    entity's (domain, entity): one bronze table each. -#}
{% macro bronze_entities() -%}
    {{ return([('product', 'categories'), ('fx', 'fx_rates'), ('logistics', 'inventory'), ('product', 'merchants'), ('transaction', 'orders'), ('transaction', 'refunds'), ('logistics', 'shipments'), ('product', 'skus'), ('marketing', 'spend'), ('user', 'users'), ('logistics', 'warehouses')]) }}
{%- endmacro %}
