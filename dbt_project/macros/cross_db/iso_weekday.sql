{#- ISO day of the week of a date or timestamp: 1 (Monday) to 7 (Sunday). -#}
{% macro iso_weekday(date_or_timestamp) -%}
    {{ return(adapter.dispatch('iso_weekday')(date_or_timestamp)) }}
{%- endmacro %}

{% macro duckdb__iso_weekday(date_or_timestamp) -%}
    extract(isodow from {{ date_or_timestamp }})
{%- endmacro %}

{% macro spark__iso_weekday(date_or_timestamp) -%}
    extract(dayofweek_iso from {{ date_or_timestamp }})
{%- endmacro %}
