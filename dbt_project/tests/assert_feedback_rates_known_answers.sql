{{ config(severity='warn') }}
-- Data quality, not a KPI rule (so a warning, never an error): events.md allows a feedback for a
-- message_id that no bot_message has; such ratings count nowhere and are reported as
-- data_quality_daily.orphan_feedback. Returns those feedback events (first copies), for review.
-- Not scoped to the affected users (docs/incremental.md): it is keyed by (assistant_id,
-- message_id), not by user, and a re-delivery that removes an answer marks its owner, not the
-- users who rated it, so a scope by user could miss a new orphan.

with

feedback as (

    select * from {{ ref('int_events_deduplicated') }}
    where event_type = 'feedback'

),

answers as (

    select distinct assistant_id, message_id
    from {{ ref('int_events_deduplicated') }}
    where event_type = 'bot_message'

)

select
    feedback.event_id,
    feedback.export_date,
    feedback.assistant_id,
    feedback.message_id,
    feedback.occurred_at

from feedback
left join answers
    on feedback.assistant_id = answers.assistant_id and feedback.message_id = answers.message_id
where answers.message_id is null
