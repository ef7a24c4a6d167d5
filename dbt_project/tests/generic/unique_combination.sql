{#- dbt's `unique` over several columns together: the rows whose combination of `columns` occurs
    more than once. The same SQL as dbt's unique test with the key as one row_key value (a list on
    DuckDB, an array on Spark), so that one YAML line serves both engines. -#}
{% test unique_combination(model, columns) %}

select
    {{ row_key(columns) }} as unique_field,
    count(*) as n_records

from {{ model }}
group by {{ row_key(columns) }}
having count(*) > 1

{% endtest %}
