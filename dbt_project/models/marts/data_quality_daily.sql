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

first_copies as (

    select * from {{ ref('stg_platform__events') }}

),

assistants as (

    select * from {{ ref('assistants') }}

),

answers as (

    select distinct assistant_id, message_id
    from first_copies
    where event_type = 'bot_message'

),

first_copy_counts as (

    select
        first_copies.export_date,
        count(*) as events_loaded,
        count(*) filter (where not first_copies.is_known_type) as unknown_event_types,
        count(*) filter (
            where cast(timezone('UTC', first_copies.occurred_at) as date)
                < first_copies.export_date - interval 7 day
        ) as late_events,
        count(*) filter (
            where first_copies.event_type = 'feedback' and answers.message_id is null
        ) as orphan_feedback,
        count(*) filter (where assistants.assistant_id is null) as unknown_assistant_events

    from first_copies
    left join answers
        on first_copies.event_type = 'feedback'
        and first_copies.assistant_id = answers.assistant_id
        and first_copies.message_id = answers.message_id
    left join assistants on first_copies.assistant_id = assistants.assistant_id
    group by first_copies.export_date

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
        to_json(map(list(reason order by reason), list(n order by reason))) as rejects_by_reason
    from (
        select export_date, reason, count(*) as n
        from rejected_lines
        group by export_date, reason
    )
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
        coalesce(first_copy_counts.orphan_feedback, 0) as orphan_feedback,
        coalesce(first_copy_counts.unknown_assistant_events, 0) as unknown_assistant_events,
        cast(coalesce(reject_counts.rejects_by_reason, '{}') as varchar) as rejects_by_reason,
        export_days.loaded_at

    from export_days
    left join file_counts on export_days.export_date = file_counts.export_date
    left join valid_copies on export_days.export_date = valid_copies.export_date
    left join first_copy_counts on export_days.export_date = first_copy_counts.export_date
    left join reject_counts on export_days.export_date = reject_counts.export_date

)

select * from final
