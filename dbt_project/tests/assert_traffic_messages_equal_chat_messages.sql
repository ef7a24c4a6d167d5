{{ config(meta={'dagster': {'ref': {'name': 'fct_traffic'}}}) }}
-- kpis.md "Traffic" counts the user, bot and operator messages that belong to a chat (by their
-- own local time, so a message may fall on another day than its chat's start). Over all dates
-- no message is lost or added: per assistant, channel and user, sum(messages) of fct_traffic
-- must equal the sum of user_messages + bot_messages + operator_messages of the user's chats in
-- fct_messages (and likewise per message type). Returns the users whose totals differ. Scope: per
-- user, so an incremental refresh checks the affected users (docs/incremental.md).

with

traffic as (

    select
        assistant_id, channel, user_id,
        sum(messages) as messages,
        sum(user_messages) as user_messages,
        sum(bot_messages) as bot_messages,
        sum(operator_messages) as operator_messages

    from {{ recomputed_rows(ref('fct_traffic')) }} as t
    group by assistant_id, channel, user_id

),

chat_messages as (

    select
        assistant_id, channel, user_id,
        sum(user_messages + bot_messages + operator_messages) as messages,
        sum(user_messages) as user_messages,
        sum(bot_messages) as bot_messages,
        sum(operator_messages) as operator_messages

    from {{ recomputed_rows(ref('fct_messages')) }} as m
    group by assistant_id, channel, user_id
    having sum(user_messages + bot_messages + operator_messages) > 0

)

select
    coalesce(traffic.assistant_id, chat_messages.assistant_id) as assistant_id,
    coalesce(traffic.channel, chat_messages.channel) as channel,
    coalesce(traffic.user_id, chat_messages.user_id) as user_id,
    traffic.messages as traffic_messages,
    chat_messages.messages as chat_messages,
    traffic.user_messages as traffic_user_messages, chat_messages.user_messages as chat_user_messages,
    traffic.bot_messages as traffic_bot_messages, chat_messages.bot_messages as chat_bot_messages,
    traffic.operator_messages as traffic_operator_messages,
    chat_messages.operator_messages as chat_operator_messages

from traffic
full outer join chat_messages
    on traffic.assistant_id = chat_messages.assistant_id
        and traffic.channel = chat_messages.channel
        and traffic.user_id = chat_messages.user_id
where traffic.messages is distinct from chat_messages.messages
    or traffic.user_messages is distinct from chat_messages.user_messages
    or traffic.bot_messages is distinct from chat_messages.bot_messages
    or traffic.operator_messages is distinct from chat_messages.operator_messages
