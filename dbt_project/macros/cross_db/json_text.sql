{#- The text of one field of a JSON object column (null when absent): `path` is a JSONPath such as
    '$.message_id', the same on both engines. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    {{ column }} ->> '{{ path }}'
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    get_json_object({{ column }}, '{{ path }}')
{%- endmacro %}
