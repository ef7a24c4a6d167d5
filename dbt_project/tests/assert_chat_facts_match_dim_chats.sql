-- The per-chat marts (fct_chats, fct_messages, fct_handover, fct_feedback) hold exactly one row
-- for every chat of dim_chats (chats without messages, requests or ratings included, so counts
-- of chats agree between modules) with the chat's assistant, channel, user and local date, and
-- fct_messages carries the chat's message counts. Returns, per mart, the chats that are missing,
-- extra, or whose attributes differ. Scope: per chat, so an incremental refresh checks the
-- affected users' rows of all five marts (docs/incremental.md); a fact row whose user differs
-- from its chat's would still show as missing or extra.

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

facts as (

    select
        'fct_chats' as mart, chat_id, assistant_id, channel, user_id, chat_local_date,
        null::bigint as user_messages, null::bigint as bot_messages, null::bigint as operator_messages
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

marts as (

    select * from (values ('fct_chats'), ('fct_messages'), ('fct_handover'), ('fct_feedback')) as m (mart)

),

expected as (

    select marts.mart, chats.*
    from marts cross join chats

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
