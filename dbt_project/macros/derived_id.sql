{#- A stable id derived from several text columns: the md5 of each value after its length in
    characters. The lengths make the text one list of values alone can give: joined by a separator
    only, values that hold the separator ('c' + 'e1|e2' and 'c|e1' + 'e2') would give one id. -#}
{% macro derived_id(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append('cast(length(' ~ column ~ ') as ' ~ dbt.type_string() ~ '), ' ~ column) -%}
    {%- endfor -%}
    md5(concat_ws('|', {{ parts | join(', ') }}))
{%- endmacro %}
