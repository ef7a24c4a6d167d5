{#-
  The incremental interface (docs/incremental.md). Three macros a model or a test uses:

    user_keyed_incremental()  the config of a model keyed by user (assistant_id, user_id): before a
                              refresh appends, it deletes the recomputed users' rows. Declares the
                              dependency on int_users_affected once, for every such model.
    recomputed_rows(X)        the recomputed users' rows of X, as a subquery to alias:
                              `from {{ recomputed_rows(ref('dim_chats')) }} as chats`. All rows when
                              everything is recomputed (a full rebuild; a test run with
                              var test_scope = 'all').
    refresh_stamp()           the refreshed_at a user-keyed model writes on its rows.

  A refresh recomputes the users of int_users_affected (raw.pending_users, which the loader fills)
  over their whole history. Every row of a user-keyed model carries refreshed_at, the stamp of the
  affected set it was computed for; after a model's delete + append, the recomputed users' rows are
  exactly its rows with the current stamp, and they sit in the row groups appended last, so a
  filter on the stamp (a literal) reads those row groups only, where a join on the users would read
  the whole history.
-#}

{% macro user_keyed_incremental() %}
    {%- set affected_users = ref('int_users_affected') -%}  {#- the one declaration of the dependency #}
    {{ adapter.dispatch('user_keyed_incremental_config')() }}
{% endmacro %}


{% macro default__user_keyed_incremental_config() %}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_recomputed_users() }}"
    ) }}
{% endmacro %}


{#- Spark (docs/spark.md): plain Parquet tables have no DELETE. A user-keyed table is partitioned
    by user bucket and a refresh overwrites the affected buckets with their kept rows and the
    recomputed users' rows (macros/spark_user_buckets.sql). -#}
{% macro spark__user_keyed_incremental_config() %}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['user_bucket'],
        file_format='parquet',
        on_schema_change='fail',
        post_hook="{{ spark_finish_user_buckets() }}"
    ) }}
{% endmacro %}


{% macro delete_recomputed_users() %}
    {%- if is_incremental() -%}
        delete from {{ this }} as t
        where {{ is_affected_user('t') }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}


{#- The recomputed users' rows of `relation`, keyed by (assistant_id, user_id). A user-keyed
    incremental model is filtered on the stamp; anything else (raw events, the staging view of them)
    by a semi join on the affected users. -#}
{% macro recomputed_rows(relation) %}
    {%- set every_row = not execute or not recomputing_some_users_only() -%}
    {#- a unit test's inputs are its given rows, and it has no graph to look the relation up in -#}
    {%- set columns = user_keyed_columns() if execute and model.resource_type != 'unit_test'
                                              and is_user_keyed_model(relation) else none -%}
    {%- if every_row and not columns -%}
        {{ relation }}
    {%- elif every_row -%}
        (select {{ columns }} from {{ relation }} as keyed)
    {%- elif is_user_keyed_model(relation) -%}
        (select {{ columns or '*' }} from {{ relation }} as recomputed where {{ stamped_for_affected_users('recomputed') }})
    {%- else -%}
        (select * from {{ relation }} as recomputed where {{ is_affected_user('recomputed') }})
    {%- endif -%}
{% endmacro %}


{#- The columns of a user-keyed model that are results, when some are not (Spark's partition column
    user_bucket, which the model writing the next table adds itself); none: every column. -#}
{% macro user_keyed_columns() %}
    {{ return(adapter.dispatch('user_keyed_columns')()) }}
{% endmacro %}

{% macro default__user_keyed_columns() %}
    {{ return(none) }}
{% endmacro %}

{% macro spark__user_keyed_columns() %}
    {{ return(star_except(['user_bucket'])) }}
{% endmacro %}


{#- The refreshed_at of the rows a user-keyed model writes: the affected set's stamp, so that the
    rows computed for one affected set share it even when a run rebuilds only some models; the
    run's own start when nothing is affected (a full rebuild of an empty pending set). -#}
{% macro refresh_stamp() -%}
    {{ affected_set_stamp() or run_started_stamp() }}
{%- endmacro %}


{#- True when only some users are recomputed, i.e. rows of the others must not be read.
    A model: an incremental run of an incremental model (dbt's is_incremental()).
    A test: var test_scope (dbt_project.yml) is 'recomputed_users' and the run is not a full
    rebuild (in a full rebuild every user is recomputed); 'all' tests every row. The var is the same
    for every refresh, so dbt's partial parsing holds from one refresh to the next. -#}
{% macro recomputing_some_users_only() %}
    {%- if model.resource_type != 'test' -%}
        {{ return(is_incremental()) }}
    {%- endif -%}
    {%- set scope = var('test_scope') -%}
    {%- if scope not in ('recomputed_users', 'all') -%}
        {{ exceptions.raise_compiler_error(
            "var test_scope must be 'recomputed_users' or 'all', not '" ~ scope ~ "'") }}
    {%- endif -%}
    {{ return(scope == 'recomputed_users' and not flags.FULL_REFRESH) }}
{% endmacro %}


{% macro is_affected_user(relation_alias) -%}
    exists (
        select 1 from {{ project_relation('int_users_affected') }} as affected
        where affected.assistant_id = {{ relation_alias }}.assistant_id
            and affected.user_id = {{ relation_alias }}.user_id
    )
{%- endmacro %}


{#- A literal, not a subquery: DuckDB skips row groups by min/max for a comparison with a constant,
    but a subquery's value only sometimes reaches the scan. -#}
{% macro stamped_for_affected_users(relation_alias) -%}
    {%- set stamp = affected_set_stamp() -%}
    {%- if stamp is none -%}
        false
    {%- else -%}
        {{ relation_alias }}.refreshed_at = {{ stamp }}
    {%- endif -%}
{%- endmacro %}


{#- The current affected set's stamp as a SQL literal; none when nothing is affected (or at parse
    time). A run that builds int_users_affected stamps it with the run's start (below), so the stamp
    is known without a query; only a run that does not rebuild it (a by-hand `dbt test`, a
    `--select` of some models) reads it from the table, once per node. -#}
{% macro affected_set_stamp() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if 'model.' ~ project_name ~ '.int_users_affected' in selected_resources -%}
        {{ return(run_started_stamp()) }}
    {%- endif -%}
    {%- set affected = project_relation('int_users_affected') -%}
    {%- if adapter.get_relation(affected.database, affected.schema, affected.identifier) is none -%}
        {{ return(none) }}  {#- not built yet: a by-hand `dbt compile` on an empty warehouse #}
    {%- endif -%}
    {%- set result = run_query(
        "select " ~ instant_as_utc_text('max(refreshed_at)') ~ " from " ~ affected) -%}
    {%- set value = result.columns[0].values()[0] -%}
    {{ return(none if value is none else "cast('" ~ value ~ "+00' as " ~ type_instant() ~ ")") }}
{%- endmacro %}


{#- The start of this dbt run (dbt's run_started_at is UTC): int_users_affected's stamp. -#}
{% macro run_started_stamp() -%}
    {%- if not execute -%}
        cast(null as {{ type_instant() }})  {#- parse time: the SQL is not run #}
    {%- else -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00' as {{ type_instant() }})
    {%- endif -%}
{%- endmacro %}


{#- True when `relation` is one of this project's user-keyed (incremental) models. -#}
{% macro is_user_keyed_model(relation) %}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name
              and node.alias == relation.identifier and node.schema == relation.schema
              and node.config.materialized == 'incremental' -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}


{#- The relation of this project's model `name`, from the graph: at run time dbt refuses a ref()
    its node did not declare, and generic tests do not declare int_users_affected. -#}
{% macro project_relation(name) %}
    {%- if not execute -%}
        {{ return(name) }}  {#- parse time: the SQL is not run #}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{% endmacro %}


{#- The relation a generic test (unique and the like) reads: dbt's own get_where_subquery (the
    test's `where` config) over the recomputed users' rows when the relation is user-keyed. A key
    such as event_id or chat_id belongs to one user's rows (the loader marks the users of every
    copy of an event), so the other users' rows, unchanged since they were tested, cannot collide
    with the recomputed ones. Everything else is tested whole. dbt's documented hook for this. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = execute and is_user_keyed_model(relation) -%}
    {%- if where or scoped -%}
        {%- set rows = recomputed_rows(relation) if scoped else relation -%}
        {%- do return("(select * from " ~ rows ~ " as scoped where " ~ (where or 'true') ~ ") dbt_subquery") -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
