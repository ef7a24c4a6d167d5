{#- Whether the export line of `earlier` (a relation alias) comes before that of `later` (or is the
    same line, with or_same): by export_date, then file_name, then line_number (kpis.md "Ground
    rules" 1: the first copy of an event wins). Field by field, not as row values: DuckDB builds two
    row values for every pair a join compares, which made a large join much slower; plain
    comparisons are also the same SQL on Spark. -#}
{% macro export_position_before(earlier, later, or_same=false) -%}
    (
        {{ earlier }}.export_date < {{ later }}.export_date
        or (
            {{ earlier }}.export_date = {{ later }}.export_date
            and (
                {{ earlier }}.file_name < {{ later }}.file_name
                or (
                    {{ earlier }}.file_name = {{ later }}.file_name
                    and {{ earlier }}.line_number {{ '<=' if or_same else '<' }} {{ later }}.line_number
                )
            )
        )
    )
{%- endmacro %}
