{{ config(meta={'dagster': {'ref': {'name': 'fct_chats'}}}) }}
-- The per-chat marts (fct_chats, fct_messages, fct_handover, fct_feedback) hold exactly one row
-- for every chat of dim_chats (chats without messages, requests or ratings included, so counts
-- of chats agree between modules) with the chat's assistant, channel, user and local date, and
-- fct_messages carries the chat's message counts (kpis.md "Messages"): recounted from staging
-- (int_events_deduplicated), not taken from dim_chats, as the user, bot and operator messages of
-- the chat's conversation between its started_at and ended_at (sessions of a conversation never
-- overlap in time: a gap longer than a positive timeout separates them; the two instants are
-- assert_chat_duration_non_negative's). Returns, per mart, the chats that are missing, extra, or
-- whose attributes differ. Scope: per chat, so an incremental refresh checks the affected users'
-- rows of all five marts (docs/incremental.md); a fact row whose user differs from its chat's
-- would still show as missing or extra.

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

facts as (

    select
        'fct_chats' as mart, chat_id, assistant_id, channel, user_id, chat_local_date,
        cast(null as bigint) as user_messages, cast(null as bigint) as bot_messages,
        cast(null as bigint) as operator_messages
    from {{ recomputed_rows(ref('fct_chats')) }} as f
    union all
    select
        'fct_messages', chat_id, assistant_id, channel, user_id, chat_local_date,
        user_messages, bot_messages, operator_messages
    from {{ recomputed_rows(ref('fct_messages')) }} as f
    union all
    select 'fct_handover', chat_id, assistant_id, channel, user_id, chat_local_date, null, null, null
    from {{ recomputed_rows(ref('fct_handover')) }} as f
    union all
    select 'fct_feedback', chat_id, assistant_id, channel, user_id, chat_local_date, null, null, null
    from {{ recomputed_rows(ref('fct_feedback')) }} as f

),

chat_messages as (

    select
        chats.chat_id,
        count(*) filter (where events.event_type = 'user_message') as user_messages,
        count(*) filter (where events.event_type = 'bot_message') as bot_messages,
        count(*) filter (where events.event_type = 'operator_message') as operator_messages

    from chats
    inner join {{ recomputed_rows(ref('int_events_deduplicated')) }} as events
        on chats.assistant_id = events.assistant_id
            and chats.channel = events.channel
            and chats.user_id = events.user_id
            and chats.conversation_id = events.conversation_id
            and events.occurred_at between chats.started_at and chats.ended_at
    where events.event_type in ('user_message', 'bot_message', 'operator_message')
    group by chats.chat_id

),

marts as (

    select * from (values ('fct_chats'), ('fct_messages'), ('fct_handover'), ('fct_feedback')) as m (mart)

),

expected as (

    select
        marts.mart,
        chats.chat_id,
        chats.assistant_id,
        chats.channel,
        chats.user_id,
        chats.chat_local_date,
        coalesce(chat_messages.user_messages, 0) as user_messages,
        coalesce(chat_messages.bot_messages, 0) as bot_messages,
        coalesce(chat_messages.operator_messages, 0) as operator_messages

    from marts
    cross join chats
    left join chat_messages on chats.chat_id = chat_messages.chat_id

)

select
    coalesce(expected.mart, facts.mart) as mart,
    coalesce(expected.chat_id, facts.chat_id) as chat_id,
    expected.chat_id is null as is_extra,
    facts.chat_id is null as is_missing

from expected
full outer join facts on expected.mart = facts.mart and expected.chat_id = facts.chat_id
where expected.chat_id is null
    or facts.chat_id is null
    or facts.assistant_id <> expected.assistant_id
    or facts.channel <> expected.channel
    or facts.user_id <> expected.user_id
    or facts.chat_local_date <> expected.chat_local_date
    or (facts.mart = 'fct_messages' and (
        facts.user_messages <> expected.user_messages
        or facts.bot_messages <> expected.bot_messages
        or facts.operator_messages <> expected.operator_messages
    ))
