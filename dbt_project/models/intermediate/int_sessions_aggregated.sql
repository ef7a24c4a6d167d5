{{ user_keyed_incremental() }}

{#- One row per session; a session is a chat when it holds a user_message or a click. #}

with

session_events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e

),

aggregated as (

    select
        session_id,
        assistant_id,
        channel,
        user_id,
        conversation_id,
        any_value(timezone) as timezone,
        any_value(session_first_event_id) as first_event_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as events,
        count(*) filter (where event_type = 'user_message') as user_messages,
        count(*) filter (where event_type = 'bot_message') as bot_messages,
        count(*) filter (where event_type = 'operator_message') as operator_messages,
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type = 'handover_request') as handover_requests,
        count(*) filter (where event_type = 'agent_triggered') as agent_triggers,
        count(*) filter (where event_type = 'csat') as csat_events,
        count(*) filter (where event_type = 'bot_message' and is_fallback) as fallbacks,
        -- the last turn (kpis.md "Outcomes"): the latest user_message, click or bot_message in
        -- event order (occurred_at, event_id, as sessionization sorts); a fallback answer is told
        -- apart from a real one
        {{ arg_max_by(
            "case when event_type = 'bot_message' and is_fallback then 'fallback' else event_type end",
            ['occurred_at', 'event_id']
        ) }} filter (where event_type in ('user_message', 'click', 'bot_message')) as last_turn

    from session_events
    group by session_id, assistant_id, channel, user_id, conversation_id

),

final as (

    select
        *,
        user_messages > 0 or clicks > 0 as is_chat,
        {{ refresh_stamp() }} as refreshed_at

    from aggregated

)

select * from final
