{#-
  The scope of the tests keyed by user (assistant_id, user_id): the singular tests (tests/*.sql)
  and the generic uniqueness tests on the user-keyed models (get_where_subquery below).

  Their cost grows with the whole loaded history, while an incremental refresh only deletes and
  recomputes the users of int_users_affected: the rows of every other user did not change and were
  tested when they were built. So in an incremental refresh a test keeps only the affected users'
  rows; a full rebuild (--full-refresh) and a by-hand `dbt build` / `dbt test` without vars test
  everything.

  An incremental refresh is a run given `export_days` in --vars without --full-refresh: the
  Dagster refresh always passes that var (an empty list for a run without partitions), so its
  presence on the command line counts, not only a non-empty value.
-#}

{#- True when the tests check only the affected users (an incremental refresh). -#}
{% macro tests_scoped_to_affected_users() %}
    {%- set cli_vars = invocation_args_dict.get('vars') or {} -%}
    {{ return(('export_days' in cli_vars or var('export_days', []) | length > 0)
              and not flags.FULL_REFRESH) }}
{% endmacro %}


{#- A predicate on `relation_alias`, a user-keyed model: in an incremental refresh, true for the
    affected users' rows only (the rows stamped for the current affected set, see
    macros/affected_users.sql); otherwise `true`. -#}
{% macro in_refresh_scope(relation_alias) %}
    {#- ref() always, whatever the branch: dbt records the dependency at parse time, when vars and
        flags are not those of the run (else: "unable to infer all dependencies" at run time). -#}
    {%- set affected = ref('int_users_affected') -%}
    {%- if tests_scoped_to_affected_users() -%}
        {{ stamped_for_affected_users(relation_alias) }}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}


{#- The same for a relation without the stamp (raw.events): a semi join on the user. -#}
{% macro in_refresh_scope_by_user(relation_alias) %}
    {%- set affected = ref('int_users_affected') -%}  {#- ref() always: see in_refresh_scope #}
    {%- if tests_scoped_to_affected_users() -%}
        {{ is_affected_user(relation_alias) }}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}


{#- A predicate on an export_date column: in an incremental refresh, true for the export days the
    run loaded (var export_days) only; otherwise `true`. For tests keyed by export line: a load
    replaces whole export days, so the lines of other days did not change. -#}
{% macro in_refresh_export_days(column) %}
    {%- if tests_scoped_to_affected_users() -%}
        {%- set days = var('export_days', []) -%}
        {%- if days | length == 0 -%}
            false
        {%- else -%}
            {{ column }} in ({% for d in days %}cast('{{ d }}' as date){{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}


{#- The relation a generic test (unique and the like) reads: dbt's own get_where_subquery (the
    test's `where` config), plus, in an incremental refresh, only the affected users' rows (those
    stamped for the current affected set) when the relation is a user-keyed incremental model
    (macros/affected_users.sql). A key such as event_id or chat_id belongs to one user's rows (the
    loader marks the users of every copy of an event), so the other users' rows, unchanged since
    they were tested, cannot collide with the recomputed ones. Sources, seeds and the tables
    rebuilt on every run are tested whole. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set conditions = [where] if where else [] -%}
    {%- if execute and tests_scoped_to_affected_users() -%}
        {%- if model_relation(relation.identifier, relation.schema, incremental_only=true) is not none -%}
            {%- do conditions.append(stamped_for_affected_users('scoped')) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} as scoped where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
