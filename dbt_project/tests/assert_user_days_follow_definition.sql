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
        started_local_date as chat_local_date,
        count(*) as chats,
        count(*) filter (where has_handover_request) as chats_with_handover_requests
    from sessions
    where is_chat
    group by assistant_id, channel, user_id, started_local_date

),

-- the rows fct_users must hold
expected_users as (

    select
        dates.assistant_id,
        dates.channel,
        dates.user_id,
        dates.chat_local_date,
        dates.chats,
        dates.chats_with_handover_requests,
        min(dates.chat_local_date) over (partition by dates.assistant_id, dates.user_id)
            as first_chat_local_date,
        min(dates.chat_local_date) over (partition by dates.assistant_id, dates.user_id, dates.channel)
            as first_chat_local_date_in_channel,
        users.device_type,
        users.user_agent_device_type,
        users.browser
    from user_channel_dates as dates
    left join users on dates.assistant_id = users.assistant_id and dates.user_id = users.user_id

),

-- the rows fct_engagement must hold: fct_users' rows without the columns only fct_users has
expected_engagement as (

    select {{ star_except(['chats_with_handover_requests', 'device_type', 'user_agent_device_type', 'browser']) }}
    from expected_users

),

-- the marts' rows: every column but the bookkeeping stamp and those that
-- assert_fct_users_previous_dates_follow_definition checks, so that a column added to a mart fails
-- this test (another column count) until a test recomputes it
actual_users as (

    select
        {{ star_except([
            'is_first_row_of_day', 'is_first_handover_row_of_day',
            'previous_chat_local_date', 'previous_chat_local_date_in_channel',
            'previous_handover_chat_local_date', 'previous_handover_chat_local_date_in_channel',
            'refreshed_at'
        ]) }}
    from {{ recomputed_rows(ref('fct_users')) }} as fct_users

),

actual_engagement as (

    select {{ star_except(['refreshed_at']) }}
    from {{ recomputed_rows(ref('fct_engagement')) }} as fct_engagement

),

users_problems as (

    {{ rows_missing_or_extra('expected_users', 'actual_users') }}

),

engagement_problems as (

    {{ rows_missing_or_extra('expected_engagement', 'actual_engagement') }}

),

-- one result for both marts: fct_engagement's rows lack fct_users' other columns, so they are null
final as (

    select 'fct_users' as mart, * from users_problems
    union all
    select
        'fct_engagement' as mart,
        problem,
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
    from engagement_problems

)

select * from final
