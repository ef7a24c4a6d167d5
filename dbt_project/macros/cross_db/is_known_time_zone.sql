{#- True when the text is a time zone name the engine knows (an IANA name such as 'Europe/Madrid'). -#}
{% macro is_known_time_zone(name) -%}
    {{ return(adapter.dispatch('is_known_time_zone')(name)) }}
{%- endmacro %}

{% macro duckdb__is_known_time_zone(name) -%}
    {{ name }} in (select name from pg_timezone_names())
{%- endmacro %}

{#- Spark lists no zones; it raises an error on a zone it does not know, which fails the query
    (and so a test) as surely as a row would. -#}
{% macro spark__is_known_time_zone(name) -%}
    from_utc_timestamp(timestamp'2000-01-01 00:00:00', {{ name }}) is not null
{%- endmacro %}
