{#
  The scopes the plan talks about, as an array of (scope_type, scope_value) for one row:
  "all", plus one per scope dimension the row has a value for. Exploding it gives a KPI by
  every scope with one GROUP BY. `line_level` adds the product scopes (category, pilot
  category), which belong to a line rather than to an order.
#}
{% macro scope_array(line_level=true) %}
filter(
    array(
        named_struct('scope_type', 'all', 'scope_value', 'all'),
        {%- if line_level %}
        named_struct('scope_type', 'category', 'scope_value', category_l1),
        named_struct('scope_type', 'pilot_category', 'scope_value', pilot_category),
        {%- endif %}
        named_struct('scope_type', 'segment', 'scope_value', if(is_gen_z, 'gen_z', null)),
        named_struct('scope_type', 'segment', 'scope_value', if(is_60_plus, 'silver_60_plus', null)),
        named_struct(
            'scope_type', 'segment', 'scope_value', if(is_gen_z_pet_owner, 'gen_z_pet_owner', null)
        ),
        named_struct(
            'scope_type', 'segment', 'scope_value', if(is_lower_tier_city, 'lower_tier_city', null)
        ),
        named_struct(
            'scope_type', 'segment', 'scope_value',
            if(is_silver_tech_enthusiast, 'silver_tech_enthusiast', null)
        ),
        named_struct('scope_type', 'city_tier', 'scope_value', city_tier),
        named_struct('scope_type', 'channel', 'scope_value', channel),
        named_struct('scope_type', 'merchant_size', 'scope_value', merchant_size)
    ),
    s -> s.scope_value is not null
)
{% endmacro %}

{#
  A user's segment flags (PLAN.md), from a dim_users version `users`: Gen-Z (born 1995-2009),
  60+ by the age in the week ending on `week_end` (its year - birth year), Gen-Z pet owners,
  lower-tier cities (tier3-5), and silver tech enthusiasts (60+ with smart-device purchases on
  2+ distinct days in the 365 days ending on `week_end`: `tech` is int_silver_tech_weekly,
  left-joined on the user and `week_end`). The one definition every scoped KPI's segments come
  from.
#}
{% macro segment_flags(users, week_end, tech) -%}
coalesce({{ users }}.is_gen_z, false) as is_gen_z,
        coalesce(year({{ week_end }}) - {{ users }}.birth_year >= 60, false) as is_60_plus,
        coalesce({{ users }}.is_gen_z and {{ users }}.is_pet_owner, false) as is_gen_z_pet_owner,
        coalesce({{ users }}.is_lower_tier_city, false) as is_lower_tier_city,
        coalesce(year({{ week_end }}) - {{ users }}.birth_year >= 60, false)
        and {{ tech }}.user_id is not null as is_silver_tech_enthusiast
{%- endmacro %}
