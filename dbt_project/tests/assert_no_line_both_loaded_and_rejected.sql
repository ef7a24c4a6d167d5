-- kpis.md "Ground rules" 1: rejected lines count nowhere. A line of an export file, identified by
-- (export_date, file_name, line_number), is either loaded into raw.events or kept in
-- raw.rejected_lines, never both and never twice. Returns the lines that break this.
-- Keyed by export line, not by user (a rejected line may have no valid user at all). A load
-- replaces whole export days and marks the users of every event it loads in raw.pending_users with
-- the export day, so when a refresh tests only the recomputed users (docs/incremental.md) it checks
-- the export days of raw.pending_users: a day loaded without a valid event has no loaded line
-- that a rejected one could collide with.
-- The ref below sits in a branch that a parse under --full-refresh leaves out (a Spark target's
-- first parse is its first, full, build's), so dbt records it here for the later refreshes.
-- depends_on: {{ ref('stg_platform__pending_users') }}

with

{% if recomputing_some_users_only() %}
    days_in_scope as (

        select distinct export_date from {{ ref('stg_platform__pending_users') }}

    ),
{% endif %}

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
    count(*) filter (where outcome = 'loaded') as loaded_copies,
    count(*) filter (where outcome = 'rejected') as rejected_copies

from lines
{% if recomputing_some_users_only() %}
    where export_date in (select export_date from days_in_scope)
{% endif %}
group by export_date, file_name, line_number
having count(*) > 1
