{{ config(meta={'dagster': {'ref': {'name': 'fct_retention'}}}) }}
-- kpis.md "Retention", recomputed independently from the events: a chat is a session holding a
-- user_message or a click, its local start date the local date of its earliest event. A user
-- returned within N days when some chat of theirs starts 1 to N local days after the local start
-- date of their first chat (any channel; under a channel filter, in that channel, from their
-- first chat in that channel). Compares every user and channel with fct_retention and returns
-- the rows that differ (or miss). Scope: per user, so an incremental refresh checks the affected
-- users (docs/incremental.md).

with

session_events as (

    select
        assistant_id, user_id, channel, session_id, event_type, occurred_at, event_id,
        occurred_local_date
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as events

),

chat_starts as (

    -- one row per chat: the local date of its earliest event (by occurred_at, then event_id); a
    -- hash aggregation, not a sort of every event
    select
        assistant_id, user_id, channel, session_id,
        {{ arg_min_by('occurred_local_date', ['occurred_at', 'event_id']) }} as start_date
    from session_events
    group by assistant_id, user_id, channel, session_id
    having count(*) filter (where event_type in ('user_message', 'click')) > 0

),

firsts as (

    select
        assistant_id, user_id, channel,
        min(start_date) over (partition by assistant_id, user_id) as first_date,
        min(start_date) over (partition by assistant_id, user_id, channel) as first_date_in_channel
    from chat_starts

),

user_channels as (

    select distinct assistant_id, user_id, channel, first_date, first_date_in_channel
    from firsts

),

expected as (

    select
        uc.assistant_id, uc.user_id, uc.channel, uc.first_date, uc.first_date_in_channel,
        exists(
            select 1 from chat_starts as later
            where later.assistant_id = uc.assistant_id and later.user_id = uc.user_id
                and later.start_date between uc.first_date + 1 and uc.first_date + 7
        ) as returned_7d,
        exists(
            select 1 from chat_starts as later
            where later.assistant_id = uc.assistant_id and later.user_id = uc.user_id
                and later.start_date between uc.first_date + 1 and uc.first_date + 30
        ) as returned_30d,
        exists(
            select 1 from chat_starts as later
            where later.assistant_id = uc.assistant_id and later.user_id = uc.user_id
                and later.channel = uc.channel
                and later.start_date between uc.first_date_in_channel + 1 and uc.first_date_in_channel + 7
        ) as returned_7d_in_channel,
        exists(
            select 1 from chat_starts as later
            where later.assistant_id = uc.assistant_id and later.user_id = uc.user_id
                and later.channel = uc.channel
                and later.start_date between uc.first_date_in_channel + 1 and uc.first_date_in_channel + 30
        ) as returned_30d_in_channel

    from user_channels as uc

),

actual as (

    select * from {{ recomputed_rows(ref('fct_retention')) }} as r

),

first_channel_rows as (

    -- exactly one is_first_chat_channel row per user
    select assistant_id, user_id, count(*) filter (where is_first_chat_channel) as first_channel_rows
    from actual
    group by assistant_id, user_id

)

select
    coalesce(expected.assistant_id, actual.assistant_id) as assistant_id,
    coalesce(expected.user_id, actual.user_id) as user_id,
    coalesce(expected.channel, actual.channel) as channel,
    expected.first_date, actual.first_chat_local_date,
    expected.first_date_in_channel, actual.first_chat_local_date_in_channel,
    expected.returned_7d, actual.returned_within_7d,
    expected.returned_30d, actual.returned_within_30d,
    expected.returned_7d_in_channel, actual.returned_within_7d_in_channel,
    expected.returned_30d_in_channel, actual.returned_within_30d_in_channel,
    first_channel_rows.first_channel_rows

from expected
full outer join actual
    on expected.assistant_id = actual.assistant_id
        and expected.user_id = actual.user_id
        and expected.channel = actual.channel
left join first_channel_rows
    on first_channel_rows.assistant_id = coalesce(expected.assistant_id, actual.assistant_id)
        and first_channel_rows.user_id = coalesce(expected.user_id, actual.user_id)
where expected.user_id is null
    or actual.user_id is null
    or expected.first_date <> actual.first_chat_local_date
    or expected.first_date_in_channel <> actual.first_chat_local_date_in_channel
    or expected.returned_7d <> actual.returned_within_7d
    or expected.returned_30d <> actual.returned_within_30d
    or expected.returned_7d_in_channel <> actual.returned_within_7d_in_channel
    or expected.returned_30d_in_channel <> actual.returned_within_30d_in_channel
    or first_channel_rows.first_channel_rows <> 1
