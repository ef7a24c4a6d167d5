{#- dbt's `relationships` over several columns together: the rows of `model` whose combination of
    `columns` is no combination of `fields` in `to`. The keys are row_key values (a list on DuckDB,
    an array on Spark), so that one YAML entry serves both engines. -#}
{% test relationships_combination(model, columns, to, fields) %}

with

child as (

    select {{ row_key(columns) }} as from_field
    from {{ model }}

),

parent as (

    select {{ row_key(fields) }} as to_field
    from {{ to }}

)

select child.from_field
from child
left join parent on child.from_field = parent.to_field
where parent.to_field is null

{% endtest %}
