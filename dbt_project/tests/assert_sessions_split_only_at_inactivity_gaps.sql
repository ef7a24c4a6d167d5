{{ config(meta={'dagster': {'ref': {'name': 'int_events_sessionized'}}}) }}
-- kpis.md "Chats", sessionization: in a conversation (assistant_id, channel, user_id,
-- conversation_id), in (occurred_at, event_id) order, a new session starts at the first event and
-- at every event more than the channel's inactivity timeout after the previous one (channels
-- seed; null = no timeout, as for voice; a channel missing from the seed: 30 minutes), and
-- nowhere else; an event belongs to the session of the latest start at or before it.
-- Recomputed over the conversation's distinct instants, not by int_events_sessionized's lag() and
-- last_value() windows over its events: an instant's previous instant is the latest strictly
-- earlier occurred_at (a maximum over a range of instants), of the events at one instant only the
-- smallest event_id can start a session, and sessions are numbered by counting the starts up to
-- each instant. Returns the events of int_events_sessionized whose session (first event or
-- session_id) is not the one so computed. (Two ASOF joins did the same at twice the cost.)
-- The sessionized events are imported three times, each with the columns one step uses: DuckDB
-- keeps a CTE that is read more than once whole in memory, and spilled it to disk at large volumes.
-- Scope: a conversation belongs to one user, so an incremental refresh checks the affected users'
-- events (docs/incremental.md). After an edit of the channels seed only a full rebuild
-- (`refresh --full`, as README says) recomputes, and checks, the other users.

with

events as (

    select
        event_id, session_id, session_first_event_id,
        assistant_id, channel, user_id, conversation_id, occurred_at

    from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

event_instants as (

    select assistant_id, channel, user_id, conversation_id, occurred_at, event_id
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

event_sessions as (

    select event_id, session_id
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

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
    from event_instants
    group by assistant_id, channel, user_id, conversation_id, occurred_at

),

with_previous_instant as (

    select
        *,
        max(occurred_at) over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at
            range between unbounded preceding and interval 1 microsecond preceding
        ) as previous_instant

    from instants

),

starts_flagged as (

    select
        with_previous_instant.*,
        -- a channel without a timeout (null, as voice) never starts a session after the first
        coalesce(
            with_previous_instant.previous_instant is null
            or with_previous_instant.occurred_at > with_previous_instant.previous_instant + case
                when channels.channel is null then interval 30 minute
                else {{ minutes_interval('channels.inactivity_timeout_minutes') }}
            end,
            false
        ) as is_session_start

    from with_previous_instant
    left join channels on with_previous_instant.channel = channels.channel

),

numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by assistant_id, channel, user_id, conversation_id
            order by occurred_at
            rows between unbounded preceding and current row
        ) as session_number

    from starts_flagged

),

session_starts as (

    -- each session's first event, and the session_id the model gave it
    select
        numbered.assistant_id,
        numbered.channel,
        numbered.user_id,
        numbered.conversation_id,
        numbered.session_number,
        numbered.event_id,
        first_events.session_id

    from numbered
    inner join event_sessions as first_events on numbered.event_id = first_events.event_id
    where numbered.is_session_start

),

expected as (

    select
        events.event_id,
        events.session_id,
        events.session_first_event_id,
        starts.event_id as expected_session_first_event_id,
        starts.session_id as expected_session_id

    from events
    inner join numbered as instant
        on events.assistant_id = instant.assistant_id
            and events.channel = instant.channel
            and events.user_id = instant.user_id
            and events.conversation_id = instant.conversation_id
            and events.occurred_at = instant.occurred_at
    left join session_starts as starts
        on instant.assistant_id = starts.assistant_id
            and instant.channel = starts.channel
            and instant.user_id = starts.user_id
            and instant.conversation_id = starts.conversation_id
            and instant.session_number = starts.session_number

)

select * from expected
where session_first_event_id is distinct from expected_session_first_event_id
    or session_id is distinct from expected_session_id
