{#
  Incremental facts and marts (issue 3, docs in dbt_project/README.md).

  Facts MERGE on their key the rows silver loaded since the fact's last build, plus a lookback
  window of `lookback_days` (var) on their business date, which re-joins recent rows to
  dimension versions that arrived late (a user landing a day after their order).

  Weekly marts overwrite whole weeks (Delta dynamic partition overwrite on iso_week_label):
  every week whose Sunday is on or after the earliest business date silver loaded since the
  mart's last build. A window KPI (90, 365 days) is keyed by its Sunday, so this one rule
  covers every window size; cohort marts widen it by their window.
#}

{#
  The earliest business date loaded into silver since this model was last built, as a date
  literal: queried once per model when dbt runs it (a scalar subquery in every scan would keep
  Delta from skipping files by date, and be evaluated again in each of them). 9999-12-31 when
  nothing was loaded since: no week to recompute (get_insert_overwrite_sql below). When dbt
  only parses, the query itself stands in for the date.
#}
{% macro recompute_from() -%}
{%- if execute and is_incremental() -%}
date '{{ recompute_from_value() }}'
{%- else -%}
({{ recompute_from_query() }})
{%- endif -%}
{%- endmacro %}

{% macro recompute_from_query() -%}
select coalesce(min(changed_date), date '9999-12-31')
from {{ ref('int_changes') }}
where silver_loaded_at > (select max(dbt_built_at) from {{ this }})
{%- endmacro %}

{# recompute_from's date as text (yyyy-mm-dd), queried once per model and dbt invocation. #}
{% macro recompute_from_value() -%}
{%- set cache = graph.setdefault('lanhai_recompute_from', {}) -%}
{%- set key = invocation_id ~ ':' ~ this -%}
{%- if key not in cache -%}
    {%- set query = 'select cast((' ~ recompute_from_query() ~ ') as string)' -%}
    {%- do cache.update({key: run_query(query).columns[0].values()[0]}) -%}
{%- endif -%}
{{- cache[key] -}}
{%- endmacro %}

{#
  An incremental run of a weekly or cohort mart with nothing loaded since its last build
  recomputes no week: every such mart keeps its rows to the weeks (or cohorts) recompute_from
  reaches (is_published_week, is_changed_cohort, is_changed_week), and the run would overwrite
  no partition. dbt-spark's insert_overwrite statement is then replaced by a no-op, so a rerun
  costs the temporary view's analysis instead of planning and running the whole query.
#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) %}
{%- set follows_the_rule = ['recompute_from', 'is_published_week', 'is_changed_cohort',
                            'is_changed_week'] | select('in', model.raw_code) | list -%}
{%- if follows_the_rule and recompute_from_value() == '9999-12-31' -%}
    {%- do log(this ~ ': nothing loaded since its last build, no week to recompute', info=true) -%}
    select 'nothing to recompute' as lanhai_incremental
{%- else -%}
    {#- dbt-spark's own statement (dbt/include/spark/.../strategies.sql), for Delta -#}
    {%- set dest_columns = adapter.get_columns_in_relation(target_relation) -%}
    insert overwrite table {{ target_relation }}
    {{ partition_cols(label="partition") }}
    select {{ dest_columns | map(attribute='quoted') | join(', ') }} from {{ source_relation }}
{%- endif -%}
{% endmacro %}

{# The silver load time up to which a fact has taken rows. #}
{% macro watermark() -%}
(select max(silver_loaded_at) from {{ this }})
{%- endmacro %}

{# The first business date of a fact's lookback window. #}
{% macro lookback_from(date_column) -%}
(select date_sub(max({{ date_column }}), {{ var('lookback_days') }}) from {{ this }})
{%- endmacro %}

{#
  The weeks a weekly mart publishes, as a condition on its week column (the model's last
  statement: `where {{ is_published_week('final.iso_week_label') }}`): the weeks the data
  covers (the week in progress is not published: int_weeks_covered), and on an incremental run
  only the weeks to recompute (whole weeks: the mart is partitioned by iso_week_label and
  overwritten a partition at a time). A week in progress is recomputed by the run that loads
  its Sunday, since that day's data changes it.
#}
{% macro is_published_week(week_col) -%}
{#- ref() outside the `if`, so that dbt sees the dependencies when it parses -#}
{%- set covered, dates, changes = ref('int_weeks_covered'), ref('dim_date'), ref('int_changes') -%}
{{ week_col }} in (select iso_week_label from {{ covered }})
{%- if is_incremental() %}
    and {{ week_col }} in (
        select iso_week_label from {{ dates }}
        where week_end_date >= {{ recompute_from() }}
    )
{%- endif %}
{%- endmacro %}

{# As above for a cohort mart: the cohorts a change on the earliest date can reach (true on a
   full build). A cohort month in progress is left out by the mart itself (PLAN.md: covered
   when its month is over). #}
{% macro is_changed_cohort(month_col, window_days) -%}
{%- set changes = ref('int_changes') -%}
{%- if is_incremental() -%}
{{ month_col }} >= add_months(
        cast(date_trunc('month', {{ recompute_from() }}) as date), -1 - {{ window_days // 30 }}
    )
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{#
  Where a weekly mart reads its base rows: on an incremental run, keep the rows that can reach
  a week to recompute, i.e. `date_col` on or after the first day of the earliest such week's
  window (`window_days` long; a week for a plain weekly KPI, 90 for a 90-day window ending on
  the week's Sunday). True on a full build. is_published_week alone would still have Spark
  compute every week of history and then throw all but the last few away.
#}
{% macro reaches_changed_weeks(date_col, window_days=7) -%}
{%- if is_incremental() -%}
{{ date_col }} >= date_sub({{ recompute_from() }}, {{ window_days - 1 }})
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{# A week (or a window keyed by its Sunday) that an incremental run recomputes; true on a full build. #}
{% macro is_changed_week(week_end_col) -%}
{%- if is_incremental() -%}
{{ week_end_col }} >= {{ recompute_from() }}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}
