{#- The type of an instant (a point in time, shown in any zone): DuckDB's TIMESTAMPTZ, Spark's
    TIMESTAMP (TIMESTAMP_LTZ). dbt.type_timestamp() is DuckDB's naive TIMESTAMP. -#}
{% macro type_instant() -%}
    {{ return(adapter.dispatch('type_instant')()) }}
{%- endmacro %}

{% macro duckdb__type_instant() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_instant() -%}
    timestamp
{%- endmacro %}
