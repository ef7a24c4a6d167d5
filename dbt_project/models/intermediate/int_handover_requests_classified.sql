{{ user_keyed_incremental() }}

{#- Each handover request with its trigger: operator_button when pressed as a button; else
    after_fallback when the latest bot_message before it in the same session was a fallback; else direct. #}

with

session_events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where event_type in ('bot_message', 'handover_request')

),

with_last_answer as (

    select
        *,
        {{ last_value_ignore_nulls("case when event_type = 'bot_message' then is_fallback end") }} over (
            partition by session_id
            order by occurred_at, event_id
            rows between unbounded preceding and 1 preceding
        ) as last_answer_was_fallback

    from session_events

),

final as (

    select
        event_id,
        session_id,
        assistant_id,
        channel,
        user_id,
        occurred_at,
        handover_via,
        handover_mode,
        case
            when handover_via = 'button' then 'operator_button'
            when coalesce(last_answer_was_fallback, false) then 'after_fallback'
            else 'direct'
        end as handover_trigger,
        {{ refresh_stamp() }} as refreshed_at

    from with_last_answer
    where event_type = 'handover_request'

)

select * from final
