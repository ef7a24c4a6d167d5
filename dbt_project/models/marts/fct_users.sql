{{ user_keyed_incremental() }}

{#- Users module, at user x channel x local day grain: distinct users of any period are
    `count(distinct user_id)` over these rows (never a sum of daily counts). The row carries all
    that a period's user counts need (first chat dates for new/returning, chats with handover
    requests for the handover rate, device fields), so one group by user_id serves them all. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

users as (

    select * from {{ ref('dim_users') }}

),

user_days as (

    select
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        count(*) as chats,
        count(*) filter (where handover_requests > 0) as chats_with_handover_requests

    from chats
    group by assistant_id, channel, user_id, chat_local_date

),

final as (

    select
        user_days.assistant_id,
        user_days.channel,
        user_days.user_id,
        user_days.chat_local_date,
        user_days.chats,
        user_days.chats_with_handover_requests,
        users.first_chat_local_date,
        min(user_days.chat_local_date) over (
            partition by user_days.assistant_id, user_days.user_id, user_days.channel
        ) as first_chat_local_date_in_channel,
        users.device_type,
        users.user_agent_device_type,
        users.browser,
        {{ refresh_stamp() }} as refreshed_at

    from user_days
    inner join users
        on user_days.assistant_id = users.assistant_id and user_days.user_id = users.user_id

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
