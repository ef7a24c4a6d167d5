{{ config(meta={'dagster': {'ref': {'name': 'dim_chats'}}}) }}
-- kpis.md "Time": every date is local to the assistant's time zone (the assistants seed; UTC for
-- an assistant missing from it). Returns the chats whose timezone is not the assistant's current
-- one in dim_assistants, or whose started_local_at / chat_local_date is not started_at converted
-- to that zone. (After an edit of the seed, only a full rebuild recomputes the old chats.)
-- Scope: the conversions are checked per chat, for the affected users' chats in an incremental
-- refresh (docs/incremental.md); the cheap comparison of each chat's stored timezone with the
-- assistant's stays on every chat, so a seed edit not followed by a full rebuild still fails.

with

assistants as (

    select * from {{ ref('dim_assistants') }}

),

-- every chat: its stored time zone must be the assistant's current one
chats_not_in_assistant_timezone as (

    select chats.chat_id
    from {{ ref('dim_chats') }} as chats
    left join assistants on chats.assistant_id = assistants.assistant_id
    where assistants.timezone is null or chats.timezone <> assistants.timezone

),

-- the recomputed chats: their local times must be started_at in that zone
chats_with_wrong_local_times as (

    select chats.chat_id
    from {{ recomputed_rows(ref('dim_chats')) }} as chats
    inner join assistants on chats.assistant_id = assistants.assistant_id
    where chats.started_local_at <> {{ local_timestamp('chats.started_at', 'assistants.timezone') }}
        or chats.chat_local_date <> cast({{ local_timestamp('chats.started_at', 'assistants.timezone') }} as date)

)

select * from chats_not_in_assistant_timezone
union all
select * from chats_with_wrong_local_times
