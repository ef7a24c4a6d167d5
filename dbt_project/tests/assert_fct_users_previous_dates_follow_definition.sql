{{ config(meta={'dagster': {'ref': {'name': 'fct_users'}}}) }}
-- kpis.md "Users" (active users of a period) and "Handover" (rate), as the report counts them over
-- fct_users without grouping by user (orchestration/serve/queries/users.sql): every row's
-- first-of-day flags and previous chat dates (overall and in the channel, any chat and chats with a
-- handover request) must be those that fct_users.yml defines, recomputed here from dim_chats by
-- joining each user date to the user's earlier dates (the model uses window functions); and per
-- assistant and calendar month, all channels and each channel, the users counted by those columns
-- (their row entering the month) must be count(distinct user_id) of the month's chats, with a
-- handover request or not. Returns the rows missing from or extra in the mart, then the months
-- whose counts differ. Scope: per user, so an incremental refresh checks the recomputed users'
-- rows (docs/incremental.md).

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as chats

),

fct_users as (

    select * from {{ recomputed_rows(ref('fct_users')) }} as fct_users

),

channel_dates as (

    select
        assistant_id,
        user_id,
        channel,
        chat_local_date,
        bool_or(handover_requests > 0) as has_handover_requests
    from chats
    group by assistant_id, user_id, channel, chat_local_date

),

user_dates as (

    select
        assistant_id,
        user_id,
        chat_local_date,
        min(channel) as first_channel,
        min(channel) filter (where has_handover_requests) as first_handover_channel
    from channel_dates
    group by assistant_id, user_id, chat_local_date

),

previous_dates as (

    select
        later.assistant_id,
        later.user_id,
        later.chat_local_date,
        max(earlier.chat_local_date) as previous_chat_local_date,
        max(earlier.chat_local_date) filter (where earlier.first_handover_channel is not null)
            as previous_handover_chat_local_date
    from user_dates as later
    left join user_dates as earlier
        on later.assistant_id = earlier.assistant_id
            and later.user_id = earlier.user_id
            and earlier.chat_local_date < later.chat_local_date
    group by later.assistant_id, later.user_id, later.chat_local_date

),

previous_dates_in_channel as (

    select
        later.assistant_id,
        later.user_id,
        later.channel,
        later.chat_local_date,
        max(earlier.chat_local_date) as previous_chat_local_date,
        max(earlier.chat_local_date) filter (where earlier.has_handover_requests)
            as previous_handover_chat_local_date
    from channel_dates as later
    left join channel_dates as earlier
        on later.assistant_id = earlier.assistant_id
            and later.user_id = earlier.user_id
            and later.channel = earlier.channel
            and earlier.chat_local_date < later.chat_local_date
    group by later.assistant_id, later.user_id, later.channel, later.chat_local_date

),

expected as (

    select
        channel_dates.assistant_id,
        channel_dates.channel,
        channel_dates.user_id,
        channel_dates.chat_local_date,
        channel_dates.channel = user_dates.first_channel as is_first_row_of_day,
        coalesce(channel_dates.channel = user_dates.first_handover_channel, false)
            as is_first_handover_row_of_day,
        previous_dates.previous_chat_local_date,
        previous_dates_in_channel.previous_chat_local_date as previous_chat_local_date_in_channel,
        previous_dates.previous_handover_chat_local_date,
        previous_dates_in_channel.previous_handover_chat_local_date
            as previous_handover_chat_local_date_in_channel
    from channel_dates
    inner join user_dates
        on channel_dates.assistant_id = user_dates.assistant_id
            and channel_dates.user_id = user_dates.user_id
            and channel_dates.chat_local_date = user_dates.chat_local_date
    inner join previous_dates
        on channel_dates.assistant_id = previous_dates.assistant_id
            and channel_dates.user_id = previous_dates.user_id
            and channel_dates.chat_local_date = previous_dates.chat_local_date
    inner join previous_dates_in_channel
        on channel_dates.assistant_id = previous_dates_in_channel.assistant_id
            and channel_dates.user_id = previous_dates_in_channel.user_id
            and channel_dates.channel = previous_dates_in_channel.channel
            and channel_dates.chat_local_date = previous_dates_in_channel.chat_local_date

),

actual as (

    select
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        is_first_row_of_day,
        is_first_handover_row_of_day,
        previous_chat_local_date,
        previous_chat_local_date_in_channel,
        previous_handover_chat_local_date,
        previous_handover_chat_local_date_in_channel
    from fct_users

),

row_problems as (

    {{ rows_missing_or_extra('expected', 'actual') }}

),

-- the counting rule, per calendar month: channel null is all channels
month_users_expected as (

    select
        assistant_id,
        channel,
        date_trunc('month', chat_local_date) as month_start,
        count(distinct user_id) as users,
        count(distinct user_id) filter (where handover_requests > 0) as users_with_handover_requests
    from chats
    group by grouping sets ((assistant_id, month_start), (assistant_id, channel, month_start))

),

month_users_counted as (

    select
        assistant_id,
        null as channel,
        date_trunc('month', chat_local_date) as month_start,
        count(*) filter (
            where is_first_row_of_day
            and coalesce(previous_chat_local_date < date_trunc('month', chat_local_date), true)
        ) as users,
        count(*) filter (
            where is_first_handover_row_of_day
            and coalesce(previous_handover_chat_local_date < date_trunc('month', chat_local_date), true)
        ) as users_with_handover_requests
    from fct_users
    group by assistant_id, month_start

    union all

    select
        assistant_id,
        channel,
        date_trunc('month', chat_local_date) as month_start,
        count(*) filter (
            where coalesce(previous_chat_local_date_in_channel < date_trunc('month', chat_local_date), true)
        ) as users,
        count(*) filter (
            where chats_with_handover_requests > 0
            and coalesce(
                previous_handover_chat_local_date_in_channel < date_trunc('month', chat_local_date), true
            )
        ) as users_with_handover_requests
    from fct_users
    group by assistant_id, channel, month_start

),

month_problems as (

    select
        'month users differ from count(distinct)' as problem,
        coalesce(expected.assistant_id, counted.assistant_id) as assistant_id,
        coalesce(expected.channel, counted.channel) as channel,
        cast(coalesce(expected.month_start, counted.month_start) as date) as month_start,
        expected.users as expected_users,
        counted.users as counted_users,
        expected.users_with_handover_requests as expected_users_with_handover_requests,
        counted.users_with_handover_requests as counted_users_with_handover_requests
    from month_users_expected as expected
    full outer join month_users_counted as counted
        on expected.assistant_id = counted.assistant_id
            and expected.channel is not distinct from counted.channel
            and expected.month_start = counted.month_start
    where expected.users is distinct from counted.users
        or expected.users_with_handover_requests is distinct from counted.users_with_handover_requests

),

final as (

    select
        problem,
        assistant_id,
        channel,
        user_id,
        chat_local_date,
        null as expected_users,
        null as counted_users
    from row_problems

    union all

    select
        problem,
        assistant_id,
        channel,
        null as user_id,
        month_start as chat_local_date,
        expected_users || ' / ' || expected_users_with_handover_requests as expected_users,
        counted_users || ' / ' || counted_users_with_handover_requests as counted_users
    from month_problems

)

select * from final
