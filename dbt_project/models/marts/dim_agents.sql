{#- The latest agent_name and agent_kind given for each agent_id by any agent_triggered or
    bot_message of the assistant, over all loaded history (each attribute on its own: a later event
    that omits the name keeps the earlier name). #}

with

agent_events as (

    select * from {{ ref('int_events_deduplicated') }}
    where event_type in ('agent_triggered', 'bot_message')
        and agent_id is not null

),

final as (

    -- each attribute from its own latest event that gives it: an arg_max over (occurred_at,
    -- event_id), one aggregate pass instead of a sorted window per attribute
    select
        assistant_id,
        agent_id,
        {{ arg_max_by('agent_name', ['occurred_at', 'event_id']) }}
        filter (where agent_name is not null) as agent_name,
        {{ arg_max_by('agent_kind', ['occurred_at', 'event_id']) }}
        filter (where agent_kind is not null) as agent_kind

    from agent_events
    group by assistant_id, agent_id

)

select * from final
