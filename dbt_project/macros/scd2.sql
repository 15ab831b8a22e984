{#
  Type-2 validity of an entity's versions (its history staging view: every version the
  sources sent, by updated_at), as columns beside the version's own: version_no, valid_from /
  valid_to (exclusive; null while current), is_current. The first version is valid from the
  beginning of time, so that an event recorded before the source's first change record (an
  order paid before the profile row's timestamp) still finds the entity as first seen. Built
  from all versions each time, so a full refresh gives the same history however often the
  pipeline ran.
#}
{% macro scd2_columns(key) -%}
row_number() over (partition by {{ key }} order by updated_at) as version_no,
        case
            when row_number() over (partition by {{ key }} order by updated_at) = 1
                then timestamp '1900-01-01 00:00:00'
            else updated_at
        end as valid_from,
        lead(updated_at) over (partition by {{ key }} order by updated_at) as valid_to,
        lead(updated_at) over (partition by {{ key }} order by updated_at) is null as is_current
{%- endmacro %}

{# The join condition that picks the version of `dim` valid at the instant `at`. #}
{% macro as_of(dim, at) -%}
{{ at }} >= {{ dim }}.valid_from and ({{ dim }}.valid_to is null or {{ at }} < {{ dim }}.valid_to)
{%- endmacro %}

{# The last instant of a date (Asia/Shanghai, the session's time zone): as-of lookups keyed by a date. #}
{% macro end_of_day(date_col) -%}
(cast(date_add({{ date_col }}, 1) as timestamp) - interval 1 microsecond)
{%- endmacro %}
