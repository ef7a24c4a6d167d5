{{ config(meta={'dagster': {'ref': {'name': 'dim_users'}}}) }}
-- kpis.md "Users": a user is (assistant_id, user_id). dim_users has exactly one row per user
-- with at least one chat, and no other users; lifetime_chats and last_chat_started_at summarize
-- that user's chats: recomputed from int_events_sessionized (a chat is a session holding a
-- user_message or a click, its start its first event), not from dim_chats. Returns the users
-- that are duplicated, missing, extra, or whose summary differs. Scope: per user, so an
-- incremental refresh checks the affected users (docs/incremental.md).

with

users as (

    select
        assistant_id,
        user_id,
        count(*) as user_rows,
        any_value(lifetime_chats) as lifetime_chats,
        any_value(last_chat_started_at) as last_chat_started_at

    from {{ recomputed_rows(ref('dim_users')) }} as u
    group by assistant_id, user_id

),

events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

chat_sessions as (

    select distinct session_id from events
    where event_type in ('user_message', 'click')

),

-- each chat counted by its first event (the session's own first event id), from the events, not
-- from dim_chats, which dim_users aggregates
chats as (

    select
        events.assistant_id,
        events.user_id,
        count(*) as chats,
        max(events.occurred_at) as last_chat_started_at

    from events
    semi join chat_sessions on events.session_id = chat_sessions.session_id
    where events.event_id = events.session_first_event_id
    group by events.assistant_id, events.user_id

)

select
    coalesce(users.assistant_id, chats.assistant_id) as assistant_id,
    coalesce(users.user_id, chats.user_id) as user_id,
    users.user_rows,
    users.lifetime_chats,
    chats.chats,
    users.last_chat_started_at,
    chats.last_chat_started_at as expected_last_chat_started_at

from users
full outer join chats on users.assistant_id = chats.assistant_id and users.user_id = chats.user_id
where users.user_rows is distinct from 1
    or chats.chats is null
    or users.lifetime_chats <> chats.chats
    or users.last_chat_started_at <> chats.last_chat_started_at
