{#
  The renames of an entity's staging views, in one place: the current-state view
  (stg_<domain>__<entity>) and the history view (stg_<domain>__<entity>_history) select the
  same columns under the same names.
#}
{% macro staging_columns(entity) %}
{%- set columns = {
    'users': [
        'user_id', 'registered_at', 'birth_year', 'gender', 'city', 'city_tier',
        'acquisition_channel', 'is_pet_owner', 'phone as phone_token',
        'id_card_no as id_card_token', 'email as email_token', 'updated_at'],
    'merchants': [
        'merchant_id', 'merchant_name', 'size as merchant_size',
        'onboarded_at as onboarded_date', 'closed_at as closed_date', 'is_cross_border',
        'home_currency', 'city', 'updated_at'],
    'skus': [
        'sku_id', 'spu_id', 'merchant_id', 'category_l1', 'category_l2', 'is_nonstandard',
        'pilot_category', 'green_certified as is_green_certified', 'condition_grade', 'currency',
        'list_price as list_price_local', 'unit_cost_cny', 'updated_at'],
    'categories': [
        'category_l2', 'category_l1', 'name_zh', 'name_en', 'is_smart_device', 'updated_at'],
} -%}
{{ (columns[entity] + ['_silver_loaded_at as silver_loaded_at']) | join(',\n        ') }}
{%- endmacro %}
