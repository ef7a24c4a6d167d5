{#-
  Incremental models here are keyed by user, (assistant_id, user_id): every chat, rating, first
  chat and device belongs to one user. A refresh recomputes the users in int_users_affected (the
  loader writes them to raw.pending_users) over their whole history, so a late event can move a
  chat's start, merge or split chats, or move a first chat, with no fixed look-back window.

  Every row of these models carries refreshed_at, the stamp of the affected set it was computed
  for (int_users_affected.refreshed_at, the start of the dbt run that built it). After a model's
  delete + append, its affected users' rows are exactly the rows with the current stamp, and they
  sit in the row groups appended last: a downstream model or test that filters on the stamp reads
  those row groups only (DuckDB skips the others by their min/max), where a semi join on the
  users would read every row of the whole history.
-#}

{% macro user_keyed_incremental_config() %}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_affected_users() }}"
    ) }}
{% endmacro %}


{% macro delete_affected_users() %}
    {%- if is_incremental() -%}
        delete from {{ this }} as t
        where {{ is_affected_user('t') }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}


{#- A predicate: in an incremental run, keep only the affected users' rows of `relation_alias`, a
    user-keyed model: the rows stamped for the current affected set. -#}
{% macro only_affected_users(relation_alias) %}
    {%- if is_incremental() -%}
        {{ stamped_for_affected_users(relation_alias) }}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}


{#- The same, for a relation without the stamp (raw.events): a semi join on the user. -#}
{% macro only_affected_users_by_key(relation_alias) %}
    {%- if is_incremental() -%}
        {{ is_affected_user(relation_alias) }}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}


{% macro is_affected_user(relation_alias) -%}
    exists (
        select 1 from {{ ref('int_users_affected') }} as a
        where a.assistant_id = {{ relation_alias }}.assistant_id and a.user_id = {{ relation_alias }}.user_id
    )
{%- endmacro %}


{#- A literal, not a subquery: DuckDB skips row groups by min/max for a comparison with a constant,
    but a subquery's value only sometimes reaches the scan (it did not for fct_agents' read of
    int_events_sessionized: every row of the history was read). -#}
{% macro stamped_for_affected_users(relation_alias) -%}
    {%- set stamp = affected_set_stamp() -%}
    {%- if stamp is none -%}
        false
    {%- else -%}
        {{ relation_alias }}.refreshed_at = {{ stamp }}
    {%- endif -%}
{%- endmacro %}


{#- The current affected set's stamp (int_users_affected.refreshed_at) as a SQL literal, read when
    the node runs (every user-keyed model depends on int_users_affected, so it is built before them
    and their tests); none when nothing is affected (or at parse time). The relation comes from the
    graph, not from ref(): at run time dbt refuses a ref() its node did not declare, and generic
    tests (macros/test_scope.sql) do not declare it. -#}
{% macro affected_set_stamp() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set affected = model_relation('int_users_affected') -%}
    {%- if adapter.get_relation(affected.database, affected.schema, affected.identifier) is none -%}
        {{ return(none) }}  {#- not built yet: a by-hand `dbt compile` on an empty warehouse #}
    {%- endif -%}
    {%- set result = run_query(
        "select strftime(timezone('UTC', max(refreshed_at)), '%Y-%m-%d %H:%M:%S.%f') from " ~ affected) -%}
    {%- set value = result.columns[0].values()[0] -%}
    {{ return(none if value is none else "cast('" ~ value ~ "+00' as timestamptz)") }}
{%- endmacro %}


{#- The refreshed_at of the rows a user-keyed model writes: the affected set's stamp, so that the
    rows computed for one affected set share it even when a run rebuilds only some models; the
    run's own start when nothing is affected (a full rebuild of an empty pending set). -#}
{% macro refresh_stamp() -%}
    {{ affected_set_stamp() or run_started_stamp() }}
{%- endmacro %}


{#- The start of this dbt run (dbt's run_started_at is UTC). -#}
{% macro run_started_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00' as timestamptz)
{%- endmacro %}


{#- The relation of this project's model `identifier` (in `schema`, when given; among the
    incremental, i.e. user-keyed, models only with incremental_only), or none. -#}
{% macro model_relation(identifier, schema=none, incremental_only=false) %}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name
              and node.alias == identifier and (schema is none or node.schema == schema)
              and (not incremental_only or node.config.materialized == 'incremental') -%}
            {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}
