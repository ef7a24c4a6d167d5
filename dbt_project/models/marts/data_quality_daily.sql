{#- Data quality per export day (kpis.md "Data quality"). lines_read = events_loaded +
    duplicates_dropped + lines_rejected. Rebuilt each run: re-delivering one day can move first
    copies, and so the counts, of any other day. #}

with

export_days as (

    select * from {{ ref('stg_platform__export_days') }}

),

export_files as (

    select * from {{ ref('stg_platform__export_files') }}

),

rejected_lines as (

    select * from {{ ref('stg_platform__rejected_lines') }}

),

valid_copies as (

    select export_date, count(*) as valid_lines
    from {{ source('platform', 'events') }}
    group by export_date

),

-- Counted per export day and assistant first, then joined to the few assistants and answers:
-- joining every event row to them costs seconds per refresh on a long history.
first_copy_counts_by_assistant as (

    select
        export_date,
        assistant_id,
        count(*) as events_loaded,
        count(*) filter (where not is_known_type) as unknown_event_types,
        -- "UTC date before export_date - 7 days" as a comparison of epoch microseconds (a naive
        -- timestamp's epoch is read as UTC): a time zone conversion per event costs more than
        -- the rest of this model
        count(*) filter (
            where
            {{ epoch_microseconds('occurred_at') }}
            < {{ epoch_microseconds('cast(export_date as timestamp) - interval 7 day') }}
        ) as late_events

    from {{ ref('int_events_deduplicated') }}
    group by export_date, assistant_id

),

feedback as (

    select export_date, assistant_id, message_id
    from {{ ref('int_events_deduplicated') }}
    where event_type = 'feedback'

),

-- the rated answers: a feedback has a row there exactly when a bot_message has its message_id
-- (an anti join on those rows instead of on every bot_message of the history: far fewer rows)
rated_answers as (

    select assistant_id, message_id
    from {{ ref('int_feedback_ratings_finalized') }}

),

assistants as (

    select * from {{ ref('assistants') }}

),

orphan_feedback_counts as (

    select
        feedback.export_date,
        count(*) as orphan_feedback

    from feedback
    where not exists (
            select 1 from rated_answers as answers
            where answers.assistant_id = feedback.assistant_id and answers.message_id = feedback.message_id
        )
    group by feedback.export_date

),

first_copy_counts as (

    select
        counts.export_date,
        cast(sum(counts.events_loaded) as bigint) as events_loaded,
        cast(sum(counts.unknown_event_types) as bigint) as unknown_event_types,
        cast(sum(counts.late_events) as bigint) as late_events,
        cast(coalesce(sum(counts.events_loaded) filter (where assistants.assistant_id is null), 0) as bigint)
            as unknown_assistant_events

    from first_copy_counts_by_assistant as counts
    left join assistants on counts.assistant_id = assistants.assistant_id
    group by counts.export_date

),

file_counts as (

    select
        export_date,
        count(*) filter (where is_damaged) as damaged_files

    from export_files
    group by export_date

),

reject_counts as (

    select
        export_date,
        cast(sum(n) as bigint) as lines_rejected,
        {{ json_object_agg('reason', 'n') }} as rejects_by_reason
    from (
        select export_date, reason, count(*) as n
        from rejected_lines
        group by export_date, reason
    ) as rejected_per_reason
    group by export_date

),

final as (

    select
        export_days.export_date,
        export_days.file_count,
        coalesce(file_counts.damaged_files, 0) as damaged_files,
        export_days.lines_read,
        coalesce(first_copy_counts.events_loaded, 0) as events_loaded,
        coalesce(valid_copies.valid_lines, 0) - coalesce(first_copy_counts.events_loaded, 0)
            as duplicates_dropped,
        coalesce(reject_counts.lines_rejected, 0) as lines_rejected,
        coalesce(first_copy_counts.unknown_event_types, 0) as unknown_event_types,
        coalesce(first_copy_counts.late_events, 0) as late_events,
        coalesce(orphan_feedback_counts.orphan_feedback, 0) as orphan_feedback,
        coalesce(first_copy_counts.unknown_assistant_events, 0) as unknown_assistant_events,
        cast(coalesce(reject_counts.rejects_by_reason, '{}') as {{ dbt.type_string() }}) as rejects_by_reason,
        export_days.loaded_at

    from export_days
    left join file_counts on export_days.export_date = file_counts.export_date
    left join valid_copies on export_days.export_date = valid_copies.export_date
    left join first_copy_counts on export_days.export_date = first_copy_counts.export_date
    left join orphan_feedback_counts on export_days.export_date = orphan_feedback_counts.export_date
    left join reject_counts on export_days.export_date = reject_counts.export_date

)

select * from final
