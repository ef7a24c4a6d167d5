{#-
  Exact incremental on Spark's plain Parquet tables, which have no DELETE (docs/spark.md): the
  Spark side of user_keyed_incremental() (macros/incremental.sql). A user-keyed table is
  partitioned by a user bucket, a hash of (assistant_id, user_id) into var('user_buckets') buckets,
  kept as its last column. A refresh overwrites the affected buckets (dbt-spark's insert_overwrite,
  dynamic partition overwrite) with the rows that a delete + append would leave there:

    1. pre-hook: <model>__kept = the affected buckets' rows of the users not recomputed, as they are
       (Spark refuses to overwrite a table that the same statement reads, hence a table first);
    2. the model's rows for the recomputed users (recomputed_rows(), as on DuckDB) plus <model>__kept
       overwrite exactly the affected buckets; the other buckets keep their files;
    3. post-hook: <model>__kept is dropped.

  Whole buckets are not recomputed: a row of one user can depend on another user's events (feedback
  on another user's answer), so only the users the loader marked are recomputed, as on DuckDB.
-#}

{#- The bucket of the row of `relation_alias`: the partition column of the user-keyed tables. -#}
{% macro user_bucket(relation_alias) -%}
    pmod(xxhash64({{ relation_alias }}.assistant_id, {{ relation_alias }}.user_id), {{ var('user_buckets') | int }})
{%- endmacro %}


{% macro kept_rows_relation() %}
    {{ return(this.incorporate(path={"identifier": this.identifier ~ '__kept'})) }}
{% endmacro %}


{% macro spark_drop_kept_rows() %}
    drop table if exists {{ kept_rows_relation() }}
{% endmacro %}


{% macro spark_keep_unaffected_rows() %}
    {%- if is_incremental() -%}
        create table {{ kept_rows_relation() }} using parquet as
        select * from {{ this }} as t
        where t.user_bucket in (
            select distinct {{ user_bucket('affected') }}
            from {{ project_relation('int_users_affected') }} as affected
        )
            and not {{ is_affected_user('t') }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}


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
    select * from {{ kept_rows_relation() }}
    {%- endif %}
{% endmacro %}
