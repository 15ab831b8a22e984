{#
  Data tests scoped to what an incremental run could change (issue 15; dbt_project/README.md).

  A data test reads its model through get_where_subquery (dbt's `where` config). A model whose
  config names a `test_scope` date column (`meta: {test_scope: paid_date}`, or
  `{test_scope: {column: week_end_date, window_days: 90}}`) is tested, in an incremental run,
  on its rows dated on or after `since - (lookback_days + 6 + window_days)`, where `since` is
  the earliest business date silver loaded (int_changes) after the start of the last transform
  whose dbt build passed (audit.mart_builds: a `transform` row at its start, a `passed` row
  with the same build_id when its build passed: lanhai.landed). That is every row the run's
  facts MERGE (their lookback included) and every week the marts recompute; a test that failed
  in a build keeps failing in the builds after it, since a build that failed is never `passed`.

  Every test reads the whole model (as dbt does) on a full refresh, when no build has passed
  yet, with `--vars '{full_tests: true}'`, and for a model without `test_scope`. The model
  must depend on int_changes (`-- depends_on: {{ ref('int_changes') }}`), so that int_changes
  holds this run's loads when the model's tests read it.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [config.get('where'), test_scope_condition(relation)]
                         | reject('none') | reject('equalto', '') | list -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ')
                      ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{# The model's scope condition in this run, or '' for every row. #}
{% macro test_scope_condition(relation) -%}
    {%- if not execute or flags.FULL_REFRESH or var('full_tests', false) -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set node = test_scope_node(relation) -%}
    {%- set scope = (node.config.meta or {}).get('test_scope') if node else none -%}
    {%- if not scope -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- if 'model.lanhai.int_changes' not in node.depends_on.nodes -%}
        {%- do exceptions.raise_compiler_error(
            node.name ~ " has a test_scope but does not depend on int_changes: add "
            ~ "`-- depends_on: {{ ref('int_changes') }}` to its SQL") -%}
    {%- endif -%}
    {%- set column = scope.column if scope is mapping else scope -%}
    {%- set window = scope.get('window_days', 0) if scope is mapping else 0 -%}
    {%- set since = tests_since() -%}
    {%- if since is none -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- do return(column ~ " >= date_sub(date '" ~ since ~ "', "
                  ~ (var('lookback_days') + 6 + window) ~ ")") -%}
{%- endmacro %}

{# The graph's model (a dict) behind a relation, or none. #}
{% macro test_scope_node(relation) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
           and (node.alias or node.name) | lower == relation.identifier | lower
           and node.schema | lower == (relation.schema or '') | lower -%}
        {%- do return(node) -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

{#
  `since` as yyyy-mm-dd (9999-12-31 when nothing was loaded since), or none when no build has
  passed yet; queried once per dbt invocation.
#}
{% macro tests_since() -%}
    {%- set cache = graph.setdefault('lanhai_tests_since', {}) -%}
    {%- if invocation_id not in cache -%}
        {%- set changes = graph.nodes['model.lanhai.int_changes'] -%}
        {%- set builds = graph.sources['source.lanhai.audit.mart_builds'] -%}
        {%- set builds_table = builds.schema ~ '.' ~ builds.identifier -%}
        {%- set query -%}
            with passed as (
                select max(started.started_at) as started_at
                from {{ builds_table }} as started
                inner join {{ builds_table }} as done
                    on started.build_id = done.build_id and done.kind = 'passed'
                where started.kind = 'transform'
            )
            select
                if(passed.started_at is null, 0, 1),
                cast(coalesce(min(changes.changed_date), date '9999-12-31') as string)
            from passed
            left join {{ changes.schema }}.{{ changes.alias or changes.name }} as changes
                on changes.silver_loaded_at > passed.started_at
            group by passed.started_at
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- set since = (row[1] | string) if row[0] == 1 else none -%}
        {%- do cache.update({invocation_id: since}) -%}
        {%- do log('data tests of models with a test_scope: ' ~ (
            'their rows dated from ' ~ since ~ ' less the lookback' if since
            else 'every row (no build has passed yet)'), info=true) -%}
    {%- endif -%}
    {%- do return(cache[invocation_id]) -%}
{%- endmacro %}
