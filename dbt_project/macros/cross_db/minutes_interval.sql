{#- A whole number of minutes as an interval, to add to an instant. -#}
{% macro minutes_interval(minutes) -%}
    {{ return(adapter.dispatch('minutes_interval')(minutes)) }}
{%- endmacro %}

{% macro duckdb__minutes_interval(minutes) -%}
    to_minutes({{ minutes }})
{%- endmacro %}

{% macro spark__minutes_interval(minutes) -%}
    make_dt_interval(0, 0, {{ minutes }}, 0)
{%- endmacro %}
