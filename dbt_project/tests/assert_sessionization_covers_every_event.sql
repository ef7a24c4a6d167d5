{{ config(meta={'dagster': {'ref': {'name': 'int_events_sessionized'}}}) }}
-- kpis.md "Chats": sessionization uses every valid event of a known type except feedback, and
-- nothing else (no unknown type, no feedback, no rejected line, one copy per event_id). The types
-- are events.md's list, written out here, not staging's is_known_type flag that the model filters
-- on (a type missing from that flag would vanish from both). Returns the staging events missing
-- from int_events_sessionized and the sessionized events that should not be there or whose
-- envelope or answer fields differ from staging. Scope: an event belongs to one user, so an
-- incremental refresh checks the affected users' events on both sides (docs/incremental.md); an
-- event whose user differs between the two would still show as missing or extra.

with

eligible as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e
    where event_type in (
            'user_message', 'bot_message', 'operator_message', 'handover_request', 'csat', 'click',
            'agent_triggered'
        )

),

sessionized as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

)

select
    coalesce(eligible.event_id, sessionized.event_id) as event_id,
    eligible.event_id is null as is_extra,
    sessionized.event_id is null as is_missing

from eligible
full outer join sessionized on eligible.event_id = sessionized.event_id
where eligible.event_id is null
    or sessionized.event_id is null
    or eligible.event_type <> sessionized.event_type
    or eligible.occurred_at <> sessionized.occurred_at
    or eligible.assistant_id <> sessionized.assistant_id
    or eligible.channel <> sessionized.channel
    or eligible.user_id <> sessionized.user_id
    or eligible.conversation_id <> sessionized.conversation_id
    -- the answer fields the feedback tests read from int_events_sessionized
    or eligible.message_id is distinct from sessionized.message_id
    or eligible.is_reviewable is distinct from sessionized.is_reviewable
