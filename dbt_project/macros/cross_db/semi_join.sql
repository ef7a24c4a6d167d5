{#- The keyword of a semi join (the left rows that have a match, each once). -#}
{% macro semi_join() -%}
    {{ return(adapter.dispatch('semi_join')()) }}
{%- endmacro %}

{% macro duckdb__semi_join() -%}
    semi join
{%- endmacro %}

{% macro spark__semi_join() -%}
    left semi join
{%- endmacro %}
