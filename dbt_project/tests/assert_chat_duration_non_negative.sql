{{ config(meta={'dagster': {'ref': {'name': 'fct_chats'}}}) }}
-- kpis.md "Chats": a chat's started_at is its first event, ended_at its last event, its duration
-- ended_at - started_at in seconds (so never negative). Checked against the chat's own events
-- (int_events_sessionized), not against the min/max that built dim_chats: every event of the
-- chat lies in [started_at, ended_at] and one event lies at each end; duration_seconds is the
-- interval between the two in seconds; fct_chats carries the same three values. Returns the chats
-- (of dim_chats, or of fct_chats where it disagrees) that break this. Scope: per chat, so an
-- incremental refresh checks the affected users' chats and events in both marts
-- (docs/incremental.md).

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

facts as (

    select * from {{ recomputed_rows(ref('fct_chats')) }} as f

),

chat_events as (

    select
        chats.chat_id,
        count(*) filter (
            where events.occurred_at < chats.started_at or events.occurred_at > chats.ended_at
        ) as events_outside,
        bool_or(events.occurred_at = chats.started_at) as has_event_at_start,
        bool_or(events.occurred_at = chats.ended_at) as has_event_at_end

    from chats
    inner join {{ recomputed_rows(ref('int_events_sessionized')) }} as events
        on chats.chat_id = events.session_id
    group by chats.chat_id

)

select
    coalesce(chats.chat_id, facts.chat_id) as chat_id,
    chats.started_at,
    chats.ended_at,
    chats.duration_seconds,
    chat_events.events_outside,
    chat_events.has_event_at_start,
    chat_events.has_event_at_end,
    facts.duration_seconds as fct_duration_seconds

from chats
full outer join facts on chats.chat_id = facts.chat_id
left join chat_events on chats.chat_id = chat_events.chat_id
where chats.duration_seconds < 0
    or chat_events.chat_id is null
    or chat_events.events_outside > 0
    or not chat_events.has_event_at_start
    or not chat_events.has_event_at_end
    or abs(
        chats.duration_seconds
        - ({{ epoch_microseconds('chats.ended_at') }} - {{ epoch_microseconds('chats.started_at') }}) / 1000000.0
    ) > 0.000001
    or facts.duration_seconds is distinct from chats.duration_seconds
    or facts.started_at is distinct from chats.started_at
    or facts.ended_at is distinct from chats.ended_at
