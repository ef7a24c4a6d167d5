{#- The value of `value` on the row that sorts last (arg_max_by) or first (arg_min_by) by the
    columns `order_by` (a list of expressions, compared in order), in one aggregate pass instead of
    a sorted window. Rows whose value is null are skipped, unless nulls_win: then a null on the
    last row is the result (a retraction that must win). Follow it with `filter (where ...)` to
    restrict the rows: both engines take the clause. -#}
{% macro arg_max_by(value, order_by, nulls_win=false) -%}
    {{ return(adapter.dispatch('arg_max_by')(value, order_by, nulls_win, 'max')) }}
{%- endmacro %}

{% macro arg_min_by(value, order_by) -%}
    {{ return(adapter.dispatch('arg_max_by')(value, order_by, false, 'min')) }}
{%- endmacro %}

{#- DuckDB: arg_max / arg_min skip null values, arg_max_null keeps them. -#}
{% macro duckdb__arg_max_by(value, order_by, nulls_win, extreme) -%}
    arg_{{ extreme }}{{ '_null' if nulls_win }}(
        {{ value }},
        struct_pack({% for column in order_by %}{{ column.split('.')[-1] }} := {{ column }}{{ ', ' if not loop.last }}{% endfor %})
    )
{%- endmacro %}

{#- Spark: max_by / min_by keep null values and skip null orderings. -#}
{% macro spark__arg_max_by(value, order_by, nulls_win, extreme) -%}
    {%- set ordering = 'struct(' ~ (order_by | join(', ')) ~ ')' -%}
    {{ extreme }}_by(
        {{ value }},
        {% if nulls_win %}{{ ordering }}{% else %}case when ({{ value }}) is not null then {{ ordering }} end{% endif %}
    )
{%- endmacro %}
