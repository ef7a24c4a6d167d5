{{ user_keyed_incremental() }}

{#- One row per user (assistant_id, user_id) with at least one chat in all loaded history. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

devices as (

    select * from {{ ref('int_users_devices') }}

),

per_user as (

    select
        assistant_id,
        user_id,
        count(*) as lifetime_chats,
        max(started_at) as last_chat_started_at

    from chats
    group by assistant_id, user_id

),

first_chats as (

    select * from chats
    where is_first_chat

),

final as (

    select
        per_user.assistant_id,
        per_user.user_id,
        first_chats.chat_id as first_chat_id,
        first_chats.started_at as first_chat_started_at,
        first_chats.chat_local_date as first_chat_local_date,
        first_chats.channel as first_chat_channel,
        devices.device_type as user_agent_device_type,
        coalesce(devices.device_type, first_chats.channel) as device_type,
        devices.browser,
        per_user.lifetime_chats,
        per_user.last_chat_started_at,
        {{ refresh_stamp() }} as refreshed_at

    from per_user
    inner join first_chats
        on per_user.assistant_id = first_chats.assistant_id and per_user.user_id = first_chats.user_id
    left join devices
        on per_user.assistant_id = devices.assistant_id and per_user.user_id = devices.user_id

)

select * from final
