{#-
  Exact incremental on Spark's plain Parquet tables, which have no DELETE (docs/spark.md): the
  Spark side of user_keyed_incremental() (macros/incremental.sql). A user-keyed table is
  partitioned by a user bucket, a hash of (assistant_id, user_id) into var('user_buckets') buckets,
  kept as its last column. A refresh overwrites the affected buckets (dbt-spark's insert_overwrite,
  dynamic partition overwrite) with the rows that a delete + append would leave there:

    1. one statement overwrites exactly the affected buckets with the model's rows for the
       recomputed users (recomputed_rows(), as on DuckDB) and, read from the table itself, the
       affected buckets' rows of the users not recomputed, as they are; the other buckets keep
       their files. A dynamic partition overwrite may read the table it writes: it writes to a
       staging folder and replaces a bucket's folder only once every task has finished;
    2. post-hook: the affected buckets that step 1 wrote no row to are dropped
       (spark_finish_user_buckets, below).

  Whole buckets are not recomputed: a row of one user can depend on another user's events (feedback
  on another user's answer), so only the users the loader marked are recomputed, as on DuckDB.
-#}

{#- The bucket of the row of `relation_alias`: the partition column of the user-keyed tables. -#}
{% macro user_bucket(relation_alias) -%}
    pmod(xxhash64({{ relation_alias }}.assistant_id, {{ relation_alias }}.user_id), {{ var('user_buckets') | int }})
{%- endmacro %}


{#- The buckets of the recomputed users (int_users_affected), as a subquery to test a bucket against. -#}
{% macro affected_user_buckets() -%}
    (select distinct {{ user_bucket('affected') }} from {{ project_relation('int_users_affected') }} as affected)
{%- endmacro %}


{#- Post-hook. A dynamic partition overwrite replaces only the partitions it writes rows to: an
    affected bucket left with neither a kept nor a recomputed row (its affected users lost every row
    of this table, and it holds no other user's) would keep its old files. After the overwrite such
    a bucket is exactly one that still holds a row of an affected user without the current stamp
    (a written bucket holds kept rows, of other users, and recomputed rows, which carry the stamp):
    those buckets are dropped.
    A table left with no partition at all has no Parquet file either, hence no columns for the
    build file's copy (orchestration/build/spark_models.py): then the hook's statement writes one
    empty Parquet file of its columns to <spark_dir>/empty_tables/<schema>.<table>. -#}
{% macro spark_finish_user_buckets() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- if is_incremental() -%}
        {%- set stale = run_query(
            "select distinct t.user_bucket from " ~ this ~ " as t"
            ~ " where t.user_bucket in " ~ affected_user_buckets()
            ~ " and " ~ is_affected_user('t') ~ " and not (" ~ stamped_for_affected_users('t') ~ ")") -%}
        {%- set buckets = stale.columns[0].values() | map('int') | sort -%}
        {%- if buckets -%}
            {%- set partitions = [] -%}
            {%- for bucket in buckets -%}
                {%- do partitions.append("partition (user_bucket = " ~ bucket ~ ")") -%}
            {%- endfor -%}
            {%- do run_query("alter table " ~ this ~ " drop if exists " ~ partitions | join(", ")) -%}
            {{ log(this ~ ": dropped the emptied user buckets " ~ buckets | join(", "), info=false) }}
        {%- endif -%}
    {%- endif -%}
    {%- if run_query("show partitions " ~ this).rows | length == 0 -%}
        insert overwrite directory '{{ empty_table_folder() }}' using parquet select * from {{ this }} where false
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}


{#- Where the columns of an empty user-keyed table are kept (orchestration/build/spark_models.py
    reads them there): the Spark folder (var spark_dir, as in profiles.yml) checked by
    orchestration/build/spark_session.py's check_spark_dir, so the literal holds no quote. -#}
{% macro empty_table_folder() -%}
    {%- set spark_dir = var('spark_dir', env_var('ANALYTICS_WAREHOUSE', '../data/warehouse.duckdb') ~ '.spark') -%}
    {{ spark_dir }}/empty_tables/{{ this.schema }}.{{ this.identifier }}
{%- endmacro %}


{#- True while dbt builds one of this project's user-keyed models on Spark. -#}
{% macro building_user_keyed_spark_table() %}
    {{ return(model is defined and model.resource_type == 'model' and model.package_name == project_name
              and config.get('partition_by') == ['user_bucket']) }}
{% endmacro %}


{#- dbt-spark's create_table_as (the table of a first build or full rebuild, the temporary view of an
    incremental run), with the bucket added as the last column of a user-keyed model and, in an
    incremental run, the kept rows of its affected buckets. -#}
{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- set code = compiled_code -%}
    {%- if language == 'sql' and building_user_keyed_spark_table() -%}
        {%- set code = user_bucketed(compiled_code) -%}
    {%- endif -%}
    {{ return(dbt.spark__create_table_as(temporary, relation, code, language)) }}
{%- endmacro %}


{% macro user_bucketed(compiled_code) -%}
    select
        keyed.*,
        {{ user_bucket('keyed') }} as user_bucket
    from ({{ compiled_code }}) as keyed
    {%- if is_incremental() %}
    union all
    -- the affected buckets' rows of the users not recomputed, kept as they are
    select * from {{ this }} as kept
    where kept.user_bucket in {{ affected_user_buckets() }}
        and not {{ is_affected_user('kept') }}
    {%- endif %}
{% endmacro %}
