{{ config(meta={'dagster': {'ref': {'name': 'dim_chats'}}}) }}
-- kpis.md "Chats": a chat's id is stable across rebuilds because it is derived from the
-- conversation and the chat's first event: chat_id = md5 of
-- 'len(assistant_id)|assistant_id|len(channel)|channel|...|len(first_event_id)|first_event_id'
-- (each length in characters: values that hold a '|' still give one text each). The first event
-- must be a loaded event (staging) of that conversation whose occurred_at is the chat's started_at.
-- Returns the chats that break this. Scope: per chat, so an incremental refresh checks the
-- affected users' chats against their own events (docs/incremental.md); a first event of
-- another user is still reported (as not found).
{%- set text = dbt.type_string() %}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

events as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e

)

select
    chats.chat_id,
    chats.first_event_id,
    events.event_id as found_event_id,
    chats.started_at,
    events.occurred_at as first_event_occurred_at

from chats
left join events on chats.first_event_id = events.event_id
where chats.chat_id <> md5(
        cast(length(chats.assistant_id) as {{ text }}) || '|' || chats.assistant_id || '|'
        || cast(length(chats.channel) as {{ text }}) || '|' || chats.channel || '|'
        || cast(length(chats.user_id) as {{ text }}) || '|' || chats.user_id || '|'
        || cast(length(chats.conversation_id) as {{ text }}) || '|' || chats.conversation_id || '|'
        || cast(length(chats.first_event_id) as {{ text }}) || '|' || chats.first_event_id
    )
    or events.event_id is null
    or events.assistant_id <> chats.assistant_id
    or events.channel <> chats.channel
    or events.user_id <> chats.user_id
    or events.conversation_id <> chats.conversation_id
    or events.occurred_at <> chats.started_at
