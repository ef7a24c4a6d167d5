-- kpis.md "Chats", sessionization: in a conversation (assistant_id, channel, user_id,
-- conversation_id), in (occurred_at, event_id) order, a new session starts at the first event and
-- at every event more than the channel's inactivity timeout after the previous one (channels
-- seed; null = no timeout, as for voice; a channel missing from the seed: 30 minutes), and
-- nowhere else. A session's first event is the event that starts it. Returns the events of
-- int_events_sessionized that start a session where they should not, or continue one where they
-- should start a new one. Scope: a conversation belongs to one user, so an incremental refresh
-- checks the affected users' events (docs/incremental.md). After an edit of the channels seed
-- only a full rebuild (`refresh --full`, as README says) recomputes, and checks, the other users.

with

events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

channels as (

    select * from {{ ref('channels') }}

),

ordered as (

    select
        events.event_id,
        events.session_id,
        events.session_first_event_id,
        events.assistant_id,
        events.channel,
        events.user_id,
        events.conversation_id,
        events.occurred_at,
        case when channels.channel is null then 30 else channels.inactivity_timeout_minutes end
            as timeout_minutes,
        lag(events.occurred_at) over conversation as previous_occurred_at,
        lag(events.session_id) over conversation as previous_session_id

    from events
    left join channels on events.channel = channels.channel
    window conversation as (
        partition by events.assistant_id, events.channel, events.user_id, events.conversation_id
        order by events.occurred_at, events.event_id
    )

),

checked as (

    select
        *,
        previous_occurred_at is null
        or (
            timeout_minutes is not null
            and {{ epoch_microseconds('occurred_at') }} - {{ epoch_microseconds('previous_occurred_at') }}
            > cast(timeout_minutes as bigint) * 60 * 1000000
        ) as should_start_session,
        previous_session_id is null or session_id <> previous_session_id as starts_session

    from ordered

)

select * from checked
where should_start_session <> starts_session
    or starts_session <> (session_first_event_id = event_id)
