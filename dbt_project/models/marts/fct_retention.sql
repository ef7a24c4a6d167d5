{{ user_keyed_incremental() }}

{#- Retention module (kpis.md "Beyond the platform"), at user x channel grain: one row per channel
    a user has chats in. Each row carries the user's first chat date and first return overall
    (the same on every row of the user) and in this channel. A user returned within N days when
    they have a chat whose local start date is 1 to N days after the local date of their first
    chat (a second chat on that same date is not a return), over all loaded history.

    A period's cohort is plain SQL over these rows, with no distinct count: without a channel
    filter the rows `is_first_chat_channel` (one per user) whose first_chat_local_date is in the
    period; with a channel filter the rows of that channel whose first_chat_local_date_in_channel
    is in it. Under a channel filter only that channel's chats exist (kpis.md ground rule 5), so
    both the first chat and the return are chats in that channel. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

users as (

    select * from {{ recomputed_rows(ref('dim_users')) }} as u

),

channel_dates as (

    select assistant_id, user_id, channel, chat_local_date
    from chats
    group by assistant_id, user_id, channel, chat_local_date

),

per_channel as (

    select
        channel_dates.*,
        min(chat_local_date) over (partition by assistant_id, user_id, channel)
            as first_chat_local_date_in_channel

    from channel_dates

),

channel_returns as (

    select
        assistant_id,
        user_id,
        channel,
        any_value(first_chat_local_date_in_channel) as first_chat_local_date_in_channel,
        min(chat_local_date) filter (where chat_local_date > first_chat_local_date_in_channel)
            as first_return_local_date_in_channel

    from per_channel
    group by assistant_id, user_id, channel

),

user_returns as (

    select
        users.assistant_id,
        users.user_id,
        any_value(users.first_chat_local_date) as first_chat_local_date,
        any_value(users.first_chat_channel) as first_chat_channel,
        min(channel_dates.chat_local_date)
        filter (where channel_dates.chat_local_date > users.first_chat_local_date)
            as first_return_local_date

    from users
    inner join channel_dates
        on users.assistant_id = channel_dates.assistant_id and users.user_id = channel_dates.user_id
    group by users.assistant_id, users.user_id

),

final as (

    select
        channel_returns.assistant_id,
        channel_returns.user_id,
        channel_returns.channel,
        channel_returns.channel = user_returns.first_chat_channel as is_first_chat_channel,
        user_returns.first_chat_local_date,
        user_returns.first_return_local_date,
        {{ days_between('user_returns.first_chat_local_date', 'user_returns.first_return_local_date') }}
            as days_to_return,
        coalesce(
            {{ days_between('user_returns.first_chat_local_date', 'user_returns.first_return_local_date') }} <= 7,
            false
        ) as returned_within_7d,
        coalesce(
            {{ days_between('user_returns.first_chat_local_date', 'user_returns.first_return_local_date') }} <= 30,
            false
        ) as returned_within_30d,
        channel_returns.first_chat_local_date_in_channel,
        channel_returns.first_return_local_date_in_channel,
        {{ days_between(
            'channel_returns.first_chat_local_date_in_channel', 'channel_returns.first_return_local_date_in_channel'
        ) }} as days_to_return_in_channel,
        coalesce(
            {{ days_between(
                'channel_returns.first_chat_local_date_in_channel', 'channel_returns.first_return_local_date_in_channel'
            ) }} <= 7, false
        ) as returned_within_7d_in_channel,
        coalesce(
            {{ days_between(
                'channel_returns.first_chat_local_date_in_channel', 'channel_returns.first_return_local_date_in_channel'
            ) }} <= 30, false
        ) as returned_within_30d_in_channel,
        {{ refresh_stamp() }} as refreshed_at

    from channel_returns
    inner join user_returns
        on channel_returns.assistant_id = user_returns.assistant_id
            and channel_returns.user_id = user_returns.user_id

)

-- stored in (assistant, first chat date) order: a period's cohort is a filter on both (every
-- channel's first chat is on or after the user's first chat, so that bound prunes too)
select * from final
order by assistant_id, first_chat_local_date
