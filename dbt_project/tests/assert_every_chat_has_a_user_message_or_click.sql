{{ config(meta={'dagster': {'ref': {'name': 'dim_chats'}}}) }}
-- kpis.md "Chats": a session is a chat only if it holds at least one user_message or click.
-- Returns (1) dim_chats rows without one, counted on the chat's own events in
-- int_events_sessionized, and (2) sessions that have one but are missing from dim_chats.
-- Scope: a session belongs to one user, so an incremental refresh checks the affected users'
-- sessions and chats (docs/incremental.md).

with

sessions as (

    select
        session_id,
        count(*) filter (where event_type in ('user_message', 'click')) as user_actions

    from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    group by session_id

),

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

)

select
    coalesce(chats.chat_id, sessions.session_id) as session_id,
    sessions.user_actions,
    chats.user_messages,
    chats.clicks,
    chats.chat_id is not null as is_in_dim_chats

from sessions
full outer join chats on sessions.session_id = chats.chat_id
where (chats.chat_id is not null and (
    coalesce(sessions.user_actions, 0) = 0
    or chats.user_messages + chats.clicks = 0
))
or (chats.chat_id is null and sessions.user_actions > 0)
