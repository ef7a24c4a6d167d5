-- kpis.md "Chats", sessionization: in a conversation (assistant_id, channel, user_id,
-- conversation_id), in (occurred_at, event_id) order, a new session starts at the first event and
-- at every event more than the channel's inactivity timeout after the previous one (channels
-- seed; null = no timeout, as for voice; a channel missing from the seed: 30 minutes), and
-- nowhere else; an event belongs to the session of the latest start at or before it.
-- Recomputed by ASOF joins, not by int_events_sessionized's lag() and last_value() windows: an
-- event's previous instant is the latest earlier occurred_at of its conversation, and an event
-- that shares its instant with an event of a smaller event_id never starts a session (its gap is
-- 0, and a timeout is positive: assert_channel_timeouts_positive). Returns the events of
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

with_previous_instant as (

    select
        events.event_id,
        events.assistant_id,
        events.channel,
        events.user_id,
        events.conversation_id,
        events.occurred_at,
        events.session_id,
        earlier.occurred_at as previous_instant

    from events
    asof left join events as earlier
        on events.assistant_id = earlier.assistant_id
            and events.channel = earlier.channel
            and events.user_id = earlier.user_id
            and events.conversation_id = earlier.conversation_id
            and events.occurred_at > earlier.occurred_at

),

session_starts as (

    select starts.*
    from with_previous_instant as starts
    left join channels on starts.channel = channels.channel
    where not exists (
            select 1 from events as tied
            where tied.assistant_id = starts.assistant_id
                and tied.channel = starts.channel
                and tied.user_id = starts.user_id
                and tied.conversation_id = starts.conversation_id
                and tied.occurred_at = starts.occurred_at
                and tied.event_id < starts.event_id
        )
        and (
            starts.previous_instant is null
            or starts.occurred_at > starts.previous_instant + case
                when channels.channel is null then interval 30 minute
                else to_minutes(channels.inactivity_timeout_minutes)
            end
        )

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
