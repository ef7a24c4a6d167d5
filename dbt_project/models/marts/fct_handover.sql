{{ user_keyed_incremental() }}

{#- Handover module: one row per chat (requests may be 0), split by trigger and by mode. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

requests as (

    select * from {{ recomputed_rows(ref('int_handover_requests_classified')) }} as r

),

requests_per_chat as (

    select
        session_id,
        count(*) as requests,
        count(*) filter (where handover_trigger = 'direct') as direct_requests,
        count(*) filter (where handover_trigger = 'after_fallback') as after_fallback_requests,
        count(*) filter (where handover_trigger = 'operator_button') as operator_button_requests,
        count(*) filter (where handover_mode = 'human_takeover') as human_takeover_requests,
        count(*) filter (where handover_mode = 'ticket') as ticket_requests

    from requests
    group by session_id

),

final as (

    select
        {{ chat_key_columns('chats') }},
        coalesce(requests_per_chat.requests, 0) as requests,
        coalesce(requests_per_chat.requests, 0) > 0 as has_requests,
        coalesce(requests_per_chat.direct_requests, 0) as direct_requests,
        coalesce(requests_per_chat.after_fallback_requests, 0) as after_fallback_requests,
        coalesce(requests_per_chat.operator_button_requests, 0) as operator_button_requests,
        coalesce(requests_per_chat.human_takeover_requests, 0) as human_takeover_requests,
        coalesce(requests_per_chat.ticket_requests, 0) as ticket_requests,
        {{ refresh_stamp() }} as refreshed_at

    from chats
    left join requests_per_chat on chats.chat_id = requests_per_chat.session_id

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
