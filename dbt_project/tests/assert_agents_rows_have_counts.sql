{{ config(meta={'dagster': {'ref': {'name': 'fct_agents'}}}) }}
-- kpis.md "Agents/Workflows": per agent_id, views (agent_triggered events in the chats) and
-- positive / negative (final ratings of reviewable answers of that agent in the chats); agents
-- whose three counts are all 0 get no row. Returns fct_agents rows with three zero counts or a
-- negative count, and chats where the agents' views differ from the chat's agent_triggered events
-- (dim_chats.agent_triggers) or the agents' ratings exceed the chat's ratings (fct_feedback).
-- Scope: per chat, so an incremental refresh checks the affected users' chats
-- (docs/incremental.md).

with

agents as (

    select
        chat_id,
        sum(views) as views,
        sum(positive) as positive,
        sum(negative) as negative,
        count(
            *) filter (
            where views + positive + negative = 0
            or least(views, positive, negative) < 0
        ) as empty_or_negative_rows

    from {{ recomputed_rows(ref('fct_agents')) }} as f
    group by chat_id

),

chats as (

    select chats.chat_id, chats.agent_triggers, feedback.positive, feedback.negative
    from {{ recomputed_rows(ref('dim_chats')) }} as chats
    inner join {{ recomputed_rows(ref('fct_feedback')) }} as feedback on chats.chat_id = feedback.chat_id

)

select
    coalesce(agents.chat_id, chats.chat_id) as chat_id,
    agents.views,
    chats.agent_triggers,
    agents.positive,
    chats.positive as chat_positive,
    agents.negative,
    chats.negative as chat_negative,
    agents.empty_or_negative_rows

from agents
full outer join chats on agents.chat_id = chats.chat_id
where chats.chat_id is null
    or coalesce(agents.views, 0) <> chats.agent_triggers
    or agents.positive > chats.positive
    or agents.negative > chats.negative
    or agents.empty_or_negative_rows > 0
