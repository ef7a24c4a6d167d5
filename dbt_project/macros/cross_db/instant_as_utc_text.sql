{#- An instant as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (to write it back as a literal). -#}
{% macro instant_as_utc_text(instant) -%}
    {{ return(adapter.dispatch('instant_as_utc_text')(instant)) }}
{%- endmacro %}

{% macro duckdb__instant_as_utc_text(instant) -%}
    strftime(timezone('UTC', {{ instant }}), '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{% macro spark__instant_as_utc_text(instant) -%}
    date_format(to_utc_timestamp({{ instant }}, current_timezone()), 'yyyy-MM-dd HH:mm:ss.SSSSSS')
{%- endmacro %}
