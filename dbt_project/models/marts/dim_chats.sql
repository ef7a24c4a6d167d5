{{ user_keyed_incremental() }}

{#- One row per chat: a session with at least one user_message or click. The chat id is derived
    from the conversation and the chat's first event, so it is stable across rebuilds. #}

with

sessions as (

    select * from {{ recomputed_rows(ref('int_sessions_aggregated')) }} as s
    where is_chat

),

ranked as (

    select
        *,
        row_number() over (
            partition by assistant_id, user_id
            order by started_at, first_event_id
        ) as user_chat_number,
        row_number() over (
            partition by assistant_id, user_id, channel
            order by started_at, first_event_id
        ) as user_channel_chat_number

    from sessions

),

final as (

    select
        session_id as chat_id,
        assistant_id,
        channel,
        user_id,
        conversation_id,
        first_event_id,
        timezone,
        started_at,
        ended_at,
        {{ local_timestamp('started_at', 'timezone') }} as started_local_at,
        cast({{ local_timestamp('started_at', 'timezone') }} as date) as chat_local_date,
        {{ seconds_between('started_at', 'ended_at') }} as duration_seconds,
        user_messages,
        bot_messages,
        operator_messages,
        clicks,
        handover_requests,
        agent_triggers,
        csat_events,
        fallbacks,
        last_turn,
        user_chat_number,
        user_chat_number = 1 as is_first_chat,
        user_channel_chat_number = 1 as is_first_chat_in_channel,
        {{ refresh_stamp() }} as refreshed_at

    from ranked

)

select * from final
