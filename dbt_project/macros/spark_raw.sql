{#- The Spark engine's input (docs/spark.md): registers Parquet copies of the DuckDB loader's raw
    tables as the Spark tables raw.<name> (external: dropping one leaves its files), for
    `dbt run-operation register_raw_parquet --target spark --args '{folder: ..., tables: [...]}'`,
    run by orchestration/build/spark_raw.py, which wrote the files and checked the folder's form. -#}
{% macro register_raw_parquet(folder, tables) %}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error("register_raw_parquet is for the spark target, not " ~ target.type) }}
    {%- endif -%}
    {%- do run_query("create schema if not exists raw") -%}
    {%- for table in tables -%}
        {%- if not modules.re.fullmatch('[a-z_]+', table) -%}
            {{ exceptions.raise_compiler_error("not a raw table name: " ~ table) }}
        {%- endif -%}
        {%- do run_query("drop table if exists raw." ~ table) -%}
        {%- do run_query("create table raw." ~ table ~ " using parquet location '" ~ folder ~ "/" ~ table ~ "'") -%}
        {{ log("raw." ~ table ~ ": " ~ folder ~ "/" ~ table, info=true) }}
    {%- endfor -%}
{% endmacro %}
