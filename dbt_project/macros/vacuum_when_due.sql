{#- When DuckDB compacts the rows a refresh deleted (docs/incremental.md, "Deleted rows and their
    compaction"). At a checkpoint DuckDB vacuums every table the checkpoint writes: a row group with
    deleted rows is rewritten, merged with its neighbours. A refresh deletes the recomputed users'
    rows from every user-keyed table, and those rows lie all over the history, so each refresh
    rewrote nearly every user-keyed table whole: a cost that follows the history, not the day.
    So a run vacuums only when it is due: when a user-keyed (incremental) table holds deleted rows as
    many as half its live rows, and at least a row group's worth (fewer can free no row group: a
    table of one row group keeps its deleted rows whether it is vacuumed or not). The first run
    after that compacts every table it writes, as each run did before. Otherwise the run sets
    DuckDB's max_vacuum_tasks to 0 (for its own process), and a deleted row stays in its row group,
    skipped by every scan, until the next run that is due. The decision is read from the build file
    itself (estimated_size counts the deleted rows, count(*) does not), so it needs no var and dbt's
    partial parsing holds. On Spark there is nothing to vacuum: the hook's SQL is empty, which dbt
    skips. -#}

{% macro vacuum_when_due() %}
    {{- return(adapter.dispatch('vacuum_when_due')()) -}}
{% endmacro %}


{% macro default__vacuum_when_due() %}
    {{- return('') -}}
{% endmacro %}


{#- deleted rows, as a share of a table's live rows, that make a run vacuum -#}
{% macro vacuum_due_share() %}{{ return(0.5) }}{% endmacro %}


{#- and as a count: DuckDB's row group size -#}
{% macro vacuum_due_rows() %}{{ return(122880) }}{% endmacro %}


{% macro duckdb__vacuum_when_due() %}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored = {} -%}
    {%- set catalog = run_query(
        "select schema_name, table_name, estimated_size from duckdb_tables()"
        ~ " where database_name = current_database() and not temporary") -%}
    {%- for row in catalog.rows
          if is_user_keyed_model(api.Relation.create(schema=row[0], identifier=row[1])) -%}
        {%- do stored.update({(row[0], row[1]): row[2]}) -%}
    {%- endfor -%}
    {%- set due = [] -%}
    {%- if stored -%}
        {%- set counts = [] -%}
        {%- for schema, table in stored -%}
            {%- do counts.append(
                "select '" ~ schema ~ "' as schema_name, '" ~ table ~ "' as table_name, count(*) as live_rows"
                ~ " from " ~ adapter.quote(schema) ~ "." ~ adapter.quote(table)) -%}
        {%- endfor -%}
        {%- for row in run_query(counts | join(' union all ')).rows -%}
            {%- set deleted_rows = stored[(row[0], row[1])] - row[2] -%}
            {%- if deleted_rows >= vacuum_due_rows() and deleted_rows >= vacuum_due_share() * row[2] -%}
                {%- do due.append(row[0] ~ '.' ~ row[1]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if due -%}
        {%- do log('vacuum due: deleted rows at least ' ~ vacuum_due_share() ~ ' of the live rows and '
                   ~ vacuum_due_rows() ~ ' in ' ~ due | join(', '), info=true) -%}
        {{- return('reset global max_vacuum_tasks') -}}
    {%- else -%}
        {%- do log('vacuum not due', info=true) -%}
        {{- return('set global max_vacuum_tasks = 0') -}}
    {%- endif -%}
{% endmacro %}
