-- kpis.md "Ground rules" 1: rejected lines count nowhere. A line of an export file, identified by
-- (export_date, file_name, line_number), is either loaded into raw.events or kept in
-- raw.rejected_lines, never both and never twice. Returns the lines that break this.
-- Keyed by export line, not by user (a rejected line may have no valid user at all): an
-- incremental refresh checks the export days it loaded (macros/test_scope.sql), as a load
-- replaces whole days.

with

lines as (

    select export_date, file_name, line_number, 'loaded' as outcome
    from {{ source('platform', 'events') }}
    where {{ in_refresh_export_days('export_date') }}
    union all
    select export_date, file_name, line_number, 'rejected' as outcome
    from {{ source('platform', 'rejected_lines') }}
    where {{ in_refresh_export_days('export_date') }}

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
