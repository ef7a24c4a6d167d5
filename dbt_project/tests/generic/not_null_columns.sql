{#- dbt's `not_null` for all the required columns of a model at once: one scan that counts each
    column's nulls, and a row per column that has any (its name and how many). One test node per
    model instead of one per column: each node costs a fixed time whatever the data, and a full
    rebuild runs them all. `columns`: a column name, or {name, where} for a column required only
    on the rows the condition selects (as `not_null`'s `config: where:` did). -#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {% for column in columns -%}
            {%- set name = column.name if column is mapping else column %}
            {%- set condition = "(" ~ column.where ~ ") and " if column is mapping and column.where else "" %}
            sum(case when {{ condition }}{{ name }} is null then 1 else 0 end) as {{ name }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}

),

columns_with_nulls as (

    {% for column in columns -%}
        select
            '{{ column.name if column is mapping else column }}' as column_name,
            {{ column.name if column is mapping else column }} as null_rows
        from null_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from columns_with_nulls
where null_rows > 0

{% endtest %}
