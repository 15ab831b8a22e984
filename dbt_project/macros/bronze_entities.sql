{#- Generated from schemas/ by `lanhai dbt-sources`: do not edit. Every source
    entity's (domain, entity): one bronze table each. -#}
{% macro bronze_entities() -%}
    {{ return([('growth', 'assignments'), ('product', 'categories'), ('growth', 'experiments'), ('growth', 'exposures'), ('fx', 'fx_rates'), ('logistics', 'inventory'), ('product', 'listing_audits'), ('product', 'merchant_survey'), ('product', 'merchants'), ('transaction', 'orders'), ('transaction', 'refunds'), ('user', 'reviews'), ('logistics', 'shipments'), ('product', 'skus'), ('marketing', 'spend'), ('user', 'users'), ('logistics', 'warehouses')]) }}
{%- endmacro %}
