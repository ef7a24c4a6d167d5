{#- Aggregate: a JSON object text {"key": value, ...} of the group's (key, value) pairs, keys in
    ascending order, no spaces. -#}
{% macro json_object_agg(key, value) -%}
    {{ return(adapter.dispatch('json_object_agg')(key, value)) }}
{%- endmacro %}

{% macro duckdb__json_object_agg(key, value) -%}
    to_json(map(list({{ key }} order by {{ key }}), list({{ value }} order by {{ key }})))
{%- endmacro %}

{% macro spark__json_object_agg(key, value) -%}
    to_json(map_from_entries(array_sort(collect_list(struct({{ key }}, {{ value }})))))
{%- endmacro %}
