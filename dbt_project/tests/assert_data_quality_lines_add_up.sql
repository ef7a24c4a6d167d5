{{ config(meta={'dagster': {'ref': {'name': 'data_quality_daily'}}}) }}
-- interfaces.md "The warehouse file" and kpis.md "Data quality": per export day, lines_read =
-- events_loaded + duplicates_dropped + lines_rejected, and each figure matches raw: lines_read is
-- the non-blank lines of the day's files (raw.export_files), lines_rejected its rows in
-- raw.rejected_lines, events_loaded + duplicates_dropped its rows in raw.events (valid copies),
-- events_loaded its first copies in staging; of those first copies, unknown_event_types,
-- late_events and unknown_assistant_events are recounted below by their own rules. Every loaded
-- export day has a row. Returns the export days that disagree.
-- Not scoped to the affected users (docs/incremental.md): it is keyed by export day, and
-- data_quality_daily is rebuilt whole on every run.
{%- set utc_date = 'cast(' ~ local_timestamp('occurred_at', "'UTC'") ~ ' as date)' %}

with

quality as (

    select * from {{ ref('data_quality_daily') }}

),

days as (

    select export_date, lines_read, files from {{ source('platform', 'export_days') }}

),

files as (

    select export_date, sum(lines_read) as lines_read, count(*) as files
    from {{ source('platform', 'export_files') }}
    group by export_date

),

valid_copies as (

    select export_date, count(*) as valid_lines
    from {{ source('platform', 'events') }}
    group by export_date

),

rejected as (

    select export_date, count(*) as lines_rejected
    from {{ source('platform', 'rejected_lines') }}
    group by export_date

),

assistants as (

    select assistant_id from {{ ref('assistants') }}

),

-- the first copies' per-day figures, each by its own rule: events.md's list of types (not
-- staging's is_known_type flag), "older than 7 days at arrival" as a UTC calendar date more than 7
-- days before export_date (not the model's comparison of epoch microseconds), the assistants seed
-- by a lookup (not the model's join of per-assistant counts)
first_copies as (

    select
        export_date,
        count(*) as events_loaded,
        count(*) filter (
            where event_type not in (
                'user_message', 'bot_message', 'operator_message', 'handover_request', 'feedback',
                'csat', 'click', 'agent_triggered'
            )
        ) as unknown_event_types,
        count(*) filter (
            where {{ days_between(utc_date, 'export_date') }} > 7
        ) as late_events,
        count(*) filter (
            where assistant_id not in (select assistant_id from assistants)
        ) as unknown_assistant_events

    from {{ ref('int_events_deduplicated') }}
    group by export_date

)

select
    coalesce(quality.export_date, days.export_date) as export_date,
    quality.lines_read,
    quality.events_loaded,
    quality.duplicates_dropped,
    quality.lines_rejected,
    days.lines_read as raw_lines_read,
    coalesce(files.lines_read, 0) as file_lines_read,
    coalesce(valid_copies.valid_lines, 0) as raw_valid_lines,
    coalesce(rejected.lines_rejected, 0) as raw_lines_rejected,
    coalesce(first_copies.events_loaded, 0) as staged_events,
    quality.unknown_event_types,
    coalesce(first_copies.unknown_event_types, 0) as staged_unknown_event_types,
    quality.late_events,
    coalesce(first_copies.late_events, 0) as staged_late_events,
    quality.unknown_assistant_events,
    coalesce(first_copies.unknown_assistant_events, 0) as staged_unknown_assistant_events

from quality
full outer join days on quality.export_date = days.export_date
left join files on files.export_date = coalesce(quality.export_date, days.export_date)
left join valid_copies on valid_copies.export_date = coalesce(quality.export_date, days.export_date)
left join rejected on rejected.export_date = coalesce(quality.export_date, days.export_date)
left join first_copies on first_copies.export_date = coalesce(quality.export_date, days.export_date)
where quality.export_date is null
    or days.export_date is null
    or quality.lines_read <> quality.events_loaded + quality.duplicates_dropped + quality.lines_rejected
    or quality.lines_read <> days.lines_read
    or quality.lines_read <> coalesce(files.lines_read, 0)
    or quality.file_count <> days.files
    or quality.file_count <> coalesce(files.files, 0)
    or quality.lines_rejected <> coalesce(rejected.lines_rejected, 0)
    or quality.events_loaded + quality.duplicates_dropped <> coalesce(valid_copies.valid_lines, 0)
    or quality.events_loaded <> coalesce(first_copies.events_loaded, 0)
    or quality.unknown_event_types <> coalesce(first_copies.unknown_event_types, 0)
    or quality.late_events <> coalesce(first_copies.late_events, 0)
    or quality.unknown_assistant_events <> coalesce(first_copies.unknown_assistant_events, 0)
    or least(
        quality.events_loaded, quality.duplicates_dropped, quality.lines_rejected,
        quality.unknown_event_types, quality.late_events, quality.orphan_feedback,
        quality.unknown_assistant_events, quality.damaged_files
    ) < 0
