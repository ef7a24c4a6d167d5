-- kpis.md "Ground rules" 1: rejected lines count nowhere. A line of an export file, identified by
-- (export_date, file_name, line_number), is either loaded into raw.events or kept in
-- raw.rejected_lines, never both and never twice. Returns the lines that break this.
-- Not scoped to the affected users (macros/test_scope.sql): it is keyed by export line, and a
-- rejected line may have no valid user at all.

with

lines as (

    select export_date, file_name, line_number, 'loaded' as outcome
    from {{ source('platform', 'events') }}
    union all
    select export_date, file_name, line_number, 'rejected' as outcome
    from {{ source('platform', 'rejected_lines') }}

)

select
    export_date,
    file_name,
    line_number,
    count(*) as copies,
    list(outcome order by outcome) as outcomes

from lines
group by export_date, file_name, line_number
having count(*) > 1
