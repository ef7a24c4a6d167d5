{#- Whole days from one date to a later one, an integer (end - start). -#}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between')(start, end)) }}
{%- endmacro %}

{% macro duckdb__days_between(start, end) -%}
    ({{ end }} - {{ start }})
{%- endmacro %}

{#- Spark's date - date is an interval -#}
{% macro spark__days_between(start, end) -%}
    datediff({{ end }}, {{ start }})
{%- endmacro %}
