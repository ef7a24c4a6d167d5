{{ config(meta={'dagster': {'ref': {'name': 'dim_users'}}}) }}
-- kpis.md "Users": a user's first chat is their earliest chat over all loaded history (by
-- started_at, then first_event_id). Every user (assistant_id, user_id) of dim_chats has exactly
-- one chat with is_first_chat, it is that earliest chat and has user_chat_number 1, and
-- dim_users.first_chat_id (with its start, local date and channel) is that chat. Likewise every
-- user has exactly one is_first_chat_in_channel per channel, the earliest in that channel.
-- The earliest chats are found by anti joins (no earlier chat of the user), not by dim_chats'
-- row_number() windows. Returns the users (and channels) that break this. Scope: per user, so an
-- incremental refresh checks the affected users only (docs/incremental.md).

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

users as (

    select * from {{ recomputed_rows(ref('dim_users')) }} as u

),

earliest as (

    -- the chat no other chat of the user precedes in (started_at, first_event_id) order: an anti
    -- join, where dim_chats numbers the chats with a window
    select chats.assistant_id, chats.user_id, chats.chat_id, chats.started_at, chats.chat_local_date, chats.channel
    from chats
    where not exists (
            select 1 from chats as earlier
            where earlier.assistant_id = chats.assistant_id
                and earlier.user_id = chats.user_id
                and (
                    earlier.started_at < chats.started_at
                    or (earlier.started_at = chats.started_at and earlier.first_event_id < chats.first_event_id)
                )
        )

),

earliest_in_channel as (

    select chats.assistant_id, chats.user_id, chats.channel, chats.chat_id
    from chats
    where not exists (
            select 1 from chats as earlier
            where earlier.assistant_id = chats.assistant_id
                and earlier.user_id = chats.user_id
                and earlier.channel = chats.channel
                and (
                    earlier.started_at < chats.started_at
                    or (earlier.started_at = chats.started_at and earlier.first_event_id < chats.first_event_id)
                )
        )

),

flags as (

    select
        assistant_id,
        user_id,
        count(*) filter (where is_first_chat) as first_chats,
        any_value(chat_id) filter (where is_first_chat) as flagged_first_chat_id,
        count(*) filter (where is_first_chat <> (user_chat_number = 1)) as inconsistent_numbers

    from chats
    group by assistant_id, user_id

),

channel_flags as (

    select
        assistant_id,
        user_id,
        channel,
        count(*) filter (where is_first_chat_in_channel) as first_chats_in_channel,
        any_value(chat_id) filter (where is_first_chat_in_channel) as flagged_chat_id

    from chats
    group by assistant_id, user_id, channel

),

user_problems as (

    select
        flags.assistant_id,
        flags.user_id,
        cast(null as {{ dbt.type_string() }}) as channel,
        flags.first_chats,
        flags.flagged_first_chat_id,
        earliest.chat_id as earliest_chat_id,
        users.first_chat_id as dim_users_first_chat_id

    from flags
    inner join earliest on flags.assistant_id = earliest.assistant_id and flags.user_id = earliest.user_id
    left join users
        on flags.assistant_id = users.assistant_id and flags.user_id = users.user_id
    where flags.first_chats <> 1
        or flags.inconsistent_numbers > 0
        or flags.flagged_first_chat_id <> earliest.chat_id
        or users.first_chat_id is distinct from earliest.chat_id
        or users.first_chat_started_at is distinct from earliest.started_at
        or users.first_chat_local_date is distinct from earliest.chat_local_date
        or users.first_chat_channel is distinct from earliest.channel

),

channel_problems as (

    select
        channel_flags.assistant_id,
        channel_flags.user_id,
        channel_flags.channel,
        channel_flags.first_chats_in_channel,
        channel_flags.flagged_chat_id,
        earliest_in_channel.chat_id,
        null

    from channel_flags
    inner join earliest_in_channel
        on channel_flags.assistant_id = earliest_in_channel.assistant_id
            and channel_flags.user_id = earliest_in_channel.user_id
            and channel_flags.channel = earliest_in_channel.channel
    where channel_flags.first_chats_in_channel <> 1
        or channel_flags.flagged_chat_id <> earliest_in_channel.chat_id

)

select * from user_problems
union all
select * from channel_problems
