{{ config(meta={'dagster': {'ref': {'name': 'fct_users'}}}) }}
-- kpis.md "Users" (active, new and returning users, device), "Engagement" and "Handover" (rate):
-- fct_users and fct_engagement must each hold exactly one row per (assistant, channel, user, local
-- date) on which the user started at least one chat, with that number of chats, the user's first
-- chat date overall and in the channel, and (fct_users) how many of the chats hold a handover
-- request and the user's device fields (dim_users: the device rule itself is
-- assert_device_type_follows_definition's). Recomputed here from the events, not from dim_chats
-- or fct_users (fct_engagement projects fct_users, which aggregates dim_chats): a chat is a
-- session (int_events_sessionized) holding a user_message or a click, its local date is its first
-- event's, and a user's first chat date is the earliest of them. Returns, per mart, the rows
-- missing from or extra in it (macros/rows_missing_or_extra.sql). Scope: per user, so an
-- incremental refresh checks the recomputed users' rows (docs/incremental.md).

with

events as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as events

),

users as (

    select * from {{ recomputed_rows(ref('dim_users')) }} as users

),

sessions as (

    select
        session_id,
        assistant_id,
        channel,
        user_id,
        min(occurred_local_date) as started_local_date,
        bool_or(event_type in ('user_message', 'click')) as is_chat,
        bool_or(event_type = 'handover_request') as has_handover_request
    from events
    group by session_id, assistant_id, channel, user_id

),

user_channel_dates as (

    select
        assistant_id,
        channel,
        user_id,
        started_local_date,
        count(*) as chats,
        count(*) filter (where has_handover_request) as chats_with_handover_requests
    from sessions
    where is_chat
    group by assistant_id, channel, user_id, started_local_date

),

user_days as (

    select
        dates.assistant_id,
        dates.channel,
        dates.user_id,
        dates.started_local_date,
        dates.chats,
        dates.chats_with_handover_requests,
        min(dates.started_local_date) over (partition by dates.assistant_id, dates.user_id)
            as first_chat_local_date,
        min(dates.started_local_date) over (partition by dates.assistant_id, dates.user_id, dates.channel)
            as first_chat_local_date_in_channel,
        users.device_type,
        users.user_agent_device_type,
        users.browser
    from user_channel_dates as dates
    left join users on dates.assistant_id = users.assistant_id and dates.user_id = users.user_id

),

-- fct_engagement has fct_users' rows with fewer columns: the columns it lacks are null on both sides
expected as (

    select 'fct_users' as mart, * from user_days
    union all
    select
        'fct_engagement' as mart,
        assistant_id,
        channel,
        user_id,
        started_local_date,
        chats,
        null as chats_with_handover_requests,
        first_chat_local_date,
        first_chat_local_date_in_channel,
        null as device_type,
        null as user_agent_device_type,
        null as browser
    from user_days

),

actual as (

    select
        'fct_users' as mart,
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        chats,
        chats_with_handover_requests,
        first_chat_local_date,
        first_chat_local_date_in_channel,
        device_type,
        user_agent_device_type,
        browser
    from {{ recomputed_rows(ref('fct_users')) }} as fct_users
    union all
    select
        'fct_engagement' as mart,
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        chats,
        null as chats_with_handover_requests,
        first_chat_local_date,
        first_chat_local_date_in_channel,
        null as device_type,
        null as user_agent_device_type,
        null as browser
    from {{ recomputed_rows(ref('fct_engagement')) }} as fct_engagement

),

final as (

    {{ rows_missing_or_extra('expected', 'actual') }}

)

select * from final
