{#- The latest agent_name and agent_kind given for each agent_id by any agent_triggered or
    bot_message of the assistant, over all loaded history (each attribute on its own: a later event
    that omits the name keeps the earlier name). #}

with

agent_events as (

    select * from {{ ref('stg_platform__events') }}
    where event_type in ('agent_triggered', 'bot_message')
        and agent_id is not null

),

latest_names as (

    select assistant_id, agent_id, agent_name
    from (
        select
            *,
            row_number() over (
                partition by assistant_id, agent_id order by occurred_at desc, event_id desc
            ) as recency_rank
        from agent_events
        where agent_name is not null
    )
    where recency_rank = 1

),

latest_kinds as (

    select assistant_id, agent_id, agent_kind
    from (
        select
            *,
            row_number() over (
                partition by assistant_id, agent_id order by occurred_at desc, event_id desc
            ) as recency_rank
        from agent_events
        where agent_kind is not null
    )
    where recency_rank = 1

),

agents as (

    select distinct assistant_id, agent_id from agent_events

),

final as (

    select
        agents.assistant_id,
        agents.agent_id,
        latest_names.agent_name,
        latest_kinds.agent_kind

    from agents
    left join latest_names
        on agents.assistant_id = latest_names.assistant_id and agents.agent_id = latest_names.agent_id
    left join latest_kinds
        on agents.assistant_id = latest_kinds.assistant_id and agents.agent_id = latest_kinds.agent_id

)

select * from final
