{#- Microseconds since 1970-01-01 00:00 UTC of an instant (a naive timestamp is read as UTC): exact
    integer arithmetic on times, cheaper than a datediff. -#}
{% macro epoch_microseconds(timestamp) -%}
    {{ return(adapter.dispatch('epoch_microseconds')(timestamp)) }}
{%- endmacro %}

{% macro duckdb__epoch_microseconds(timestamp) -%}
    epoch_us({{ timestamp }})
{%- endmacro %}

{% macro spark__epoch_microseconds(timestamp) -%}
    unix_micros({{ timestamp }})
{%- endmacro %}
