-- kpis.md "Time": every date is local to the assistant's time zone (the assistants seed; UTC for
-- an assistant missing from it). Returns the chats whose timezone is not the assistant's current
-- one in dim_assistants, or whose started_local_at / chat_local_date is not started_at converted
-- to that zone. (After an edit of the seed, only a full rebuild recomputes the old chats.)
-- Scope: the conversions are checked per chat, for the affected users' chats in an incremental
-- refresh (macros/test_scope.sql); the cheap comparison of each chat's stored timezone with the
-- assistant's stays on every chat, so a seed edit not followed by a full rebuild still fails.

with

chats as (

    select *, {{ in_refresh_scope('c') }} as is_in_scope
    from {{ ref('dim_chats') }} as c

)

select
    chats.chat_id,
    chats.assistant_id,
    chats.timezone,
    assistants.timezone as assistant_timezone,
    chats.started_at,
    chats.started_local_at,
    chats.chat_local_date

from chats
left join {{ ref('dim_assistants') }} as assistants on chats.assistant_id = assistants.assistant_id
where assistants.timezone is null
    or chats.timezone <> assistants.timezone
    or (chats.is_in_scope and (
        chats.started_local_at <> timezone(assistants.timezone, chats.started_at)
        or chats.chat_local_date <> cast(timezone(assistants.timezone, chats.started_at) as date)))
