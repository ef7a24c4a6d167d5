{{ user_keyed_incremental() }}

{#- Outcomes module (kpis.md "Beyond the platform"): one row per chat with its one outcome.
    escalated: a handover_request or an operator_message in the chat; otherwise the chat is
    contained, and abandoned when its last turn (the latest user_message, click or bot_message in
    event order) is the user's or a fallback; otherwise resolved. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

classified as (

    select
        *,
        case
            when handover_requests > 0 or operator_messages > 0 then 'escalated'
            when last_turn in ('user_message', 'click', 'fallback') then 'abandoned'
            else 'resolved'
        end as outcome

    from chats

),

final as (

    select
        {{ chat_key_columns() }},
        outcome,
        outcome <> 'escalated' as is_contained,
        last_turn,
        handover_requests,
        operator_messages,
        {{ refresh_stamp() }} as refreshed_at

    from classified

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
