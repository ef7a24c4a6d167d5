{{ config(meta={'dagster': {'ref': {'name': 'int_events_sessionized'}}}) }}
-- kpis.md "Chats", sessionization: in a conversation (assistant_id, channel, user_id,
-- conversation_id), in (occurred_at, event_id) order, a new session starts at the first event and
-- at every event more than the channel's inactivity timeout after the previous one (channels
-- seed; null = no timeout, as for voice; a channel missing from the seed: 30 minutes), and
-- nowhere else; an event belongs to the session of the latest start at or before it.
-- Recomputed by ASOF joins, not by int_events_sessionized's lag() and last_value() windows: an
-- instant's previous instant is the latest earlier occurred_at of its conversation, and of the
-- events at one instant only the smallest event_id can start a session. Returns the events of
-- int_events_sessionized whose session (first event or session_id) is not the one so computed.
-- Scope: a conversation belongs to one user, so an incremental refresh checks the affected users'
-- events (docs/incremental.md). After an edit of the channels seed only a full rebuild
-- (`refresh --full`, as README says) recomputes, and checks, the other users.

with

events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

channels as (

    select * from {{ ref('channels') }}

),

instants as (

    -- one row per instant of a conversation, with the smallest event_id there: of the events that
    -- share an instant only that one can start a session (the others' gap is 0, and a timeout is
    -- positive: assert_channel_timeouts_positive). An aggregate, so that thousands of events at one
    -- instant cost a group, not a comparison of every pair.
    select assistant_id, channel, user_id, conversation_id, occurred_at, min(event_id) as event_id
    from events
    group by assistant_id, channel, user_id, conversation_id, occurred_at

),

with_previous_instant as (

    select
        instants.*,
        earlier.occurred_at as previous_instant

    from instants
    asof left join instants as earlier
        on instants.assistant_id = earlier.assistant_id
            and instants.channel = earlier.channel
            and instants.user_id = earlier.user_id
            and instants.conversation_id = earlier.conversation_id
            and instants.occurred_at > earlier.occurred_at

),

session_starts as (

    select
        starts.assistant_id,
        starts.channel,
        starts.user_id,
        starts.conversation_id,
        starts.occurred_at,
        starts.event_id,
        events.session_id

    from with_previous_instant as starts
    inner join events on starts.event_id = events.event_id
    left join channels on starts.channel = channels.channel
    where starts.previous_instant is null
        or starts.occurred_at > starts.previous_instant + case
            when channels.channel is null then interval 30 minute
            else to_minutes(channels.inactivity_timeout_minutes)
        end

),

expected as (

    select
        events.event_id,
        events.session_id,
        events.session_first_event_id,
        starts.event_id as expected_session_first_event_id,
        starts.session_id as expected_session_id

    from events
    asof left join session_starts as starts
        on events.assistant_id = starts.assistant_id
            and events.channel = starts.channel
            and events.user_id = starts.user_id
            and events.conversation_id = starts.conversation_id
            and events.occurred_at >= starts.occurred_at

)

select * from expected
where session_first_event_id is distinct from expected_session_first_event_id
    or session_id is distinct from expected_session_id
