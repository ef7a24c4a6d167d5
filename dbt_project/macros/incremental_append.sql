{#- dbt-duckdb's incremental run writes the model's rows into a temporary table, then appends that
    table to the model's: every recomputed row is written twice. A user-keyed model's strategy is a
    plain append (its pre-hook deletes the recomputed users' rows first), which reads the new rows
    once: so there the temporary relation is a view, and the append computes the rows straight into
    the model's table. dbt-duckdb's schema check (on_schema_change) reads the view's columns as it
    read the table's, and a sorted model's `order by` holds through the view's append
    (docs/incremental.md). Anything else is created as dbt-duckdb creates it. -#}
{% macro duckdb__create_table_as(
    temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none
) -%}
    {%- if temporary and language == 'sql' and model.config.materialized == 'incremental'
          and model.config.incremental_strategy == 'append' and is_incremental() -%}
        create temporary view {{ relation.include(database=false, schema=false) }} as (
            {{ compiled_code }}
        )
    {%- else -%}
        {{ dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by, sorted_by) }}
    {%- endif -%}
{%- endmacro %}
