{#- The columns of every model built in the given schemas, as (schema, table, column, data type)
    tuples, read at compile time. DuckDB answers for all of them in one information_schema query;
    other engines (Spark has no information_schema) through one get_columns_in_relation per model. -#}
{% macro columns_of_models(schemas) -%}
    {{ return(adapter.dispatch('columns_of_models')(schemas)) }}
{%- endmacro %}

{% macro duckdb__columns_of_models(schemas) -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema in schemas -%}
        {%- do models.append((node.schema, node.alias)) -%}
    {%- endfor -%}
    {%- set query -%}
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_catalog = current_database()
            and table_schema in ({% for schema in schemas %}'{{ schema }}'{{ ', ' if not loop.last }}{% endfor %})
        order by table_schema, table_name, ordinal_position
    {%- endset -%}
    {%- set columns = [] -%}
    {%- for row in run_query(query).rows if (row[0], row[1]) in models -%}
        {%- do columns.append([row[0], row[1], row[2], row[3]]) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro default__columns_of_models(schemas) -%}
    {%- set columns = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema in schemas -%}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do columns.append([node.schema, node.alias, column.name, column.dtype]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}
