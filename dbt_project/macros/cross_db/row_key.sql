{#- One value made of several columns (each as text), for a test over a compound key: a list on
    DuckDB, an array on Spark; both group and compare by value, nulls inside included. -#}
{% macro row_key(columns) -%}
    {{ return(adapter.dispatch('row_key')(columns)) }}
{%- endmacro %}

{% macro duckdb__row_key(columns) -%}
    [{% for column in columns %}cast({{ column }} as varchar){{ ', ' if not loop.last }}{% endfor %}]
{%- endmacro %}

{% macro spark__row_key(columns) -%}
    array({% for column in columns %}cast({{ column }} as string){{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
