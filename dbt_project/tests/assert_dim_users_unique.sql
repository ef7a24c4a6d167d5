-- kpis.md "Users": a user is (assistant_id, user_id). dim_users has exactly one row per user
-- with at least one chat, and no other users; lifetime_chats and last_chat_started_at summarize
-- that user's chats in dim_chats. Returns the users that are duplicated, missing, extra, or
-- whose summary differs. Scope: per user, so an incremental refresh checks the affected users
-- (docs/incremental.md).

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

chats as (

    select assistant_id, user_id, count(*) as chats, max(started_at) as last_chat_started_at
    from {{ recomputed_rows(ref('dim_chats')) }} as c
    group by assistant_id, user_id

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
