{#- dbt's persist_docs, applied when a relation is created only. An incremental run of an
    incremental model appends to a table whose comments are already those of its YAML; dbt would
    write them all again (a query per column list, one statement per column) on every refresh. An
    edited description reaches the warehouse with the next full rebuild. -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- if model.config.materialized == 'incremental' and is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(default__persist_docs(relation, model, for_relation, for_columns)) }}
{%- endmacro %}
