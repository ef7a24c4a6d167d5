{{ user_keyed_incremental() }}

{#- A user's device and browser come from the user_agent of their earliest valid event of a known
    type that has one (kpis.md "Users"). #}

with

events as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e
    where is_known_type
        and user_agent is not null

),

parsed_user_agents as (

    select * from {{ ref('int_user_agents_parsed') }}

),

earliest as (

    -- one aggregate pass: the arg_min over (occurred_at, event_id) is the event a
    -- row_number() window would rank first, without sorting every event
    select
        assistant_id,
        user_id,
        {{ arg_min_by('user_agent', ['occurred_at', 'event_id']) }} as user_agent

    from events
    group by assistant_id, user_id

),

final as (

    select
        earliest.assistant_id,
        earliest.user_id,
        earliest.user_agent,
        parsed_user_agents.device_type,
        parsed_user_agents.browser,
        {{ refresh_stamp() }} as refreshed_at

    from earliest
    inner join parsed_user_agents on earliest.user_agent = parsed_user_agents.user_agent

)

select * from final
