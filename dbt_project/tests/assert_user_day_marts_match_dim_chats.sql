-- kpis.md "Users" / "Engagement": active users of a period are counted over fct_users and
-- fct_engagement, so both must hold exactly one row per (assistant, channel, user, local date)
-- on which the user started at least one chat in dim_chats, with that number of chats, the
-- user's device fields from dim_users (fct_users), the user's first chat date overall
-- (dim_users) and the earliest chat date in that channel (fct_engagement). Returns the rows of
-- either mart that are missing, extra or different. Scope: per user, so an incremental refresh
-- checks the affected users' rows of all four marts (macros/test_scope.sql).

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ in_refresh_scope('c') }}

),

users as (

    select * from {{ ref('dim_users') }} as u
    where {{ in_refresh_scope('u') }}

),

expected as (

    select
        chats.assistant_id,
        chats.channel,
        chats.user_id,
        chats.chat_local_date,
        count(*) as chats,
        any_value(users.device_type) as device_type,
        any_value(users.user_agent_device_type) as user_agent_device_type,
        any_value(users.browser) as browser,
        any_value(users.first_chat_local_date) as first_chat_local_date,
        min(min(chats.chat_local_date)) over (
            partition by chats.assistant_id, chats.user_id, chats.channel
        ) as first_chat_local_date_in_channel

    from chats
    left join users
        on chats.assistant_id = users.assistant_id and chats.user_id = users.user_id
    group by chats.assistant_id, chats.channel, chats.user_id, chats.chat_local_date

),

fct_users as (

    select 'fct_users' as mart, assistant_id, channel, user_id, chat_local_date, chats,
        device_type, user_agent_device_type, browser,
        cast(null as date) as first_chat_local_date, cast(null as date) as first_chat_local_date_in_channel
    from {{ ref('fct_users') }} as u
    where {{ in_refresh_scope('u') }}

),

fct_engagement as (

    select 'fct_engagement' as mart, assistant_id, channel, user_id, chat_local_date, chats,
        null, null, null, first_chat_local_date, first_chat_local_date_in_channel
    from {{ ref('fct_engagement') }} as e
    where {{ in_refresh_scope('e') }}

),

actual as (

    select * from fct_users
    union all
    select * from fct_engagement

),

expected_per_mart as (

    select marts.mart, expected.*
    from expected
    cross join (values ('fct_users'), ('fct_engagement')) as marts(mart)

)

select
    coalesce(expected_per_mart.mart, actual.mart) as mart,
    coalesce(expected_per_mart.assistant_id, actual.assistant_id) as assistant_id,
    coalesce(expected_per_mart.channel, actual.channel) as channel,
    coalesce(expected_per_mart.user_id, actual.user_id) as user_id,
    coalesce(expected_per_mart.chat_local_date, actual.chat_local_date) as chat_local_date,
    expected_per_mart.chats as expected_chats,
    actual.chats

from expected_per_mart
full outer join actual
    on expected_per_mart.mart = actual.mart
    and expected_per_mart.assistant_id = actual.assistant_id
    and expected_per_mart.channel = actual.channel
    and expected_per_mart.user_id = actual.user_id
    and expected_per_mart.chat_local_date = actual.chat_local_date
where expected_per_mart.mart is null
    or actual.mart is null
    or expected_per_mart.chats <> actual.chats
    or (actual.mart = 'fct_users' and (
        actual.device_type is distinct from expected_per_mart.device_type
        or actual.user_agent_device_type is distinct from expected_per_mart.user_agent_device_type
        or actual.browser is distinct from expected_per_mart.browser))
    or (actual.mart = 'fct_engagement' and (
        actual.first_chat_local_date is distinct from expected_per_mart.first_chat_local_date
        or actual.first_chat_local_date_in_channel
            is distinct from expected_per_mart.first_chat_local_date_in_channel))
