{{ user_keyed_incremental_config() }}
-- depends_on: {{ ref('int_users_affected') }}

{#- Users module, at user x channel x local day grain: distinct users of any period are
    `count(distinct user_id)` over these rows (never a sum of daily counts). #}

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ only_affected_users('c') }}

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
        count(*) as chats

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
        users.device_type,
        users.user_agent_device_type,
        users.browser

    from user_days
    inner join users
        on user_days.assistant_id = users.assistant_id and user_days.user_id = users.user_id

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
