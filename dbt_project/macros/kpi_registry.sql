{#- Generated from conf/targets.yaml by `lanhai dbt-sources`: do not edit. The
    KPIs of the weekly review read straight from a weekly KPI mart: its value,
    numerator and denominator columns, and which of its rows count. -#}
{% macro kpi_registry() -%}
    {{ return([
        {"kpi": "gmv", "mart": "kpi_gmv_weekly", "value": "gmv_cny", "numerator": "gmv_cny", "denominator": "null", "where": "true"},
        {"kpi": "net_sales", "mart": "kpi_gmv_weekly", "value": "net_sales_cny", "numerator": "net_sales_cny", "denominator": "null", "where": "net_sales_cny is not null"},
        {"kpi": "paid_orders", "mart": "kpi_gmv_weekly", "value": "paid_orders", "numerator": "paid_orders", "denominator": "null", "where": "true"},
        {"kpi": "aov", "mart": "kpi_gmv_weekly", "value": "aov_cny", "numerator": "gmv_cny", "denominator": "paid_orders", "where": "true"},
        {"kpi": "aov_uplift", "mart": "kpi_aov_segment_weekly", "value": "aov_uplift", "numerator": "aov_cny", "denominator": "baseline_aov_cny", "where": "true"},
        {"kpi": "nonstandard_share", "mart": "kpi_nonstandard_share_weekly", "value": "nonstandard_share", "numerator": "numerator_cny", "denominator": "denominator_cny", "where": "true"},
        {"kpi": "channel_penetration", "mart": "kpi_channel_penetration_weekly", "value": "channel_penetration", "numerator": "numerator_cny", "denominator": "denominator_cny", "where": "true"},
        {"kpi": "repurchase_rate_90d", "mart": "kpi_repurchase_weekly", "value": "repurchase_rate", "numerator": "numerator", "denominator": "denominator", "where": "true"},
        {"kpi": "smb_repurchase_rate_90d", "mart": "kpi_smb_repurchase_weekly", "value": "repurchase_rate", "numerator": "numerator", "denominator": "denominator", "where": "true"},
        {"kpi": "new_customers", "mart": "kpi_cac_weekly", "value": "new_customers", "numerator": "new_customers", "denominator": "null", "where": "true"},
        {"kpi": "cac", "mart": "kpi_cac_weekly", "value": "cac_cny", "numerator": "spend_cny", "denominator": "new_customers", "where": "true"},
        {"kpi": "sku_overlap_rate", "mart": "kpi_sku_overlap_weekly", "value": "sku_overlap_rate", "numerator": "numerator", "denominator": "denominator", "where": "true"},
        {"kpi": "logistics_cost_share", "mart": "kpi_logistics_weekly", "value": "logistics_cost_share", "numerator": "logistics_cost_cny", "denominator": "shipped_gmv_cny", "where": "true"},
        {"kpi": "on_time_delivery_rate", "mart": "kpi_logistics_weekly", "value": "on_time_delivery_rate", "numerator": "on_time_shipments", "denominator": "delivered_shipments", "where": "true"},
        {"kpi": "inventory_turnover_pct", "mart": "kpi_inventory_turnover_weekly", "value": "inventory_turnover_pct", "numerator": "cogs_30d_cny", "denominator": "avg_inventory_value_cny", "where": "scope_type in ('all', 'merchant_size')"},
        {"kpi": "pilot_gmv", "mart": "kpi_pilot_weekly", "value": "gmv_cny", "numerator": "gmv_cny", "denominator": "null", "where": "scope_value <> 'reserve'"},
        {"kpi": "pilot_gmv_yoy_growth", "mart": "kpi_pilot_weekly", "value": "gmv_yoy_growth", "numerator": "gmv_cny", "denominator": "gmv_last_year_cny", "where": "scope_value <> 'reserve'"},
        {"kpi": "pilot_gross_margin_rate", "mart": "kpi_pilot_weekly", "value": "gross_margin_rate", "numerator": "gross_margin_cny", "denominator": "gmv_cny", "where": "scope_value <> 'reserve'"},
        {"kpi": "pilot_gmv_split", "mart": "kpi_pilot_weekly", "value": "gmv_split", "numerator": "gmv_cny", "denominator": "null", "where": "scope_value not in ('all', 'reserve')"},
        {"kpi": "budget_split", "mart": "kpi_pilot_weekly", "value": "budget_split", "numerator": "spend_cny", "denominator": "null", "where": "scope_value <> 'all'"},
        {"kpi": "smart_device_penetration_60plus", "mart": "kpi_smart_device_60plus_weekly", "value": "smart_device_penetration", "numerator": "numerator", "denominator": "denominator", "where": "true"},
        {"kpi": "listing_accuracy", "mart": "kpi_listing_accuracy_weekly", "value": "listing_accuracy", "numerator": "numerator", "denominator": "denominator", "where": "true"},
    ]) }}
{%- endmacro %}
