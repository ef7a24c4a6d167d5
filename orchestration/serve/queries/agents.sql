-- Agents/Workflows (kpis.md "Agents/Workflows": rows): views and final ratings per agent in the
-- period's chats; name and kind from marts.dim_agents (the latest given over all history).
-- Reads marts.fct_agents. Agents whose three counts are all 0 get no row.
with counted as (
    select
        chat_local_date >= $date_from as is_current,
        agent_id,
        sum(views) as views, sum(positive) as positive, sum(negative) as negative
    from marts.fct_agents
    where assistant_id = $assistant
        and chat_local_date between $prev_from and $date_to
        and ($channel is null or channel = $channel)
    group by all
    having sum(views) > 0 or sum(positive) > 0 or sum(negative) > 0
)

select
    counted.is_current, counted.agent_id, dim_agents.agent_name as name, dim_agents.agent_kind as kind,
    counted.views, counted.positive, counted.negative
from counted
left join marts.dim_agents
    on dim_agents.assistant_id = $assistant and dim_agents.agent_id = counted.agent_id
