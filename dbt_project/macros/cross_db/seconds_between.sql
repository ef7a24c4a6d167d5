{#- The seconds from one instant to another, exact to the microsecond, as a double. (dbt-spark's
    datediff in microseconds parses the timestamps' text.) -#}
{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between')(start, end)) }}
{%- endmacro %}

{% macro duckdb__seconds_between(start, end) -%}
    {{ dbt.datediff(start, end, 'microsecond') }} / 1000000.0
{%- endmacro %}

{% macro spark__seconds_between(start, end) -%}
    cast(unix_micros({{ end }}) - unix_micros({{ start }}) as double) / 1000000
{%- endmacro %}
