-- kpis.md "Users" and "Handover" rate: active users of a period are counted over fct_users, so it
-- must hold exactly one row per (assistant, channel, user, local date) on which the user started at
-- least one chat in dim_chats, with that number of chats, how many of them have a handover request,
-- the user's first chat date overall (dim_users) and in the channel, and the user's device fields
-- (dim_users). Returns the rows missing from or extra in the mart (macros/rows_missing_or_extra.sql);
-- one row per key is fct_users_one_row_per_user_channel_day. Scope: per user, so an incremental
-- refresh checks the affected users' rows (docs/incremental.md).

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

users as (

    select * from {{ recomputed_rows(ref('dim_users')) }} as u

),

fct_users as (

    select * from {{ recomputed_rows(ref('fct_users')) }} as f

),

chats_per_user_day as (

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

first_chat_per_user_channel as (

    select assistant_id, channel, user_id, min(chat_local_date) as first_chat_local_date_in_channel
    from chats_per_user_day
    group by assistant_id, channel, user_id

),

expected as (

    select
        chats_per_user_day.assistant_id,
        chats_per_user_day.channel,
        chats_per_user_day.user_id,
        chats_per_user_day.chat_local_date,
        chats_per_user_day.chats,
        chats_per_user_day.chats_with_handover_requests,
        users.first_chat_local_date,
        first_chat_per_user_channel.first_chat_local_date_in_channel,
        users.device_type,
        users.user_agent_device_type,
        users.browser

    from chats_per_user_day
    left join users
        on chats_per_user_day.assistant_id = users.assistant_id
        and chats_per_user_day.user_id = users.user_id
    left join first_chat_per_user_channel
        on chats_per_user_day.assistant_id = first_chat_per_user_channel.assistant_id
        and chats_per_user_day.channel = first_chat_per_user_channel.channel
        and chats_per_user_day.user_id = first_chat_per_user_channel.user_id

),

actual as (

    select assistant_id, channel, user_id, chat_local_date, chats, chats_with_handover_requests,
        first_chat_local_date, first_chat_local_date_in_channel,
        device_type, user_agent_device_type, browser
    from fct_users

),

final as (

    {{ rows_missing_or_extra('expected', 'actual') }}

)

select * from final
