{#- The wall-clock time (a naive timestamp) of an instant in an IANA time zone. Spark: the session
    time zone is UTC (profiles.yml), so from_utc_timestamp's result read as naive is the local time. -#}
{% macro local_timestamp(instant, time_zone) -%}
    {{ return(adapter.dispatch('local_timestamp')(instant, time_zone)) }}
{%- endmacro %}

{% macro duckdb__local_timestamp(instant, time_zone) -%}
    timezone({{ time_zone }}, {{ instant }})
{%- endmacro %}

{% macro spark__local_timestamp(instant, time_zone) -%}
    cast(from_utc_timestamp({{ instant }}, {{ time_zone }}) as timestamp_ntz)
{%- endmacro %}
