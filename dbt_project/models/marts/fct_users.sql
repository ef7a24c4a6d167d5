{{ user_keyed_incremental() }}

{#- Users module, at user x channel x local day grain: distinct users of any period are
    `count(distinct user_id)` over these rows (never a sum of daily counts). The row carries all
    that a period's user counts need (first chat dates for new/returning, chats with handover
    requests for the handover rate, device fields), and the user's previous chat dates, so that a
    period's users are also a plain filtered count: a user is counted on the row where they enter
    the period, the first row of a day (over all channels) whose previous chat date is before the
    period. The previous dates look at all of the user's rows, which the incremental refresh
    recomputes together, so they are exact whatever day an event arrives for. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

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
        count(*) as chats,
        count(*) filter (where handover_requests > 0) as chats_with_handover_requests

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
        user_days.chats_with_handover_requests,
        users.first_chat_local_date,
        min(user_days.chat_local_date) over (
            partition by user_days.assistant_id, user_days.user_id, user_days.channel
        ) as first_chat_local_date_in_channel,
        -- a user's rows of one day, one per channel, in channel order: the first one stands for the day
        row_number() over (
            partition by user_days.assistant_id, user_days.user_id, user_days.chat_local_date
            order by user_days.channel
        ) = 1 as is_first_row_of_day,
        -- the same among the rows of the day with handover requests (false on the others)
        user_days.chats_with_handover_requests > 0 and row_number() over (
            partition by user_days.assistant_id, user_days.user_id, user_days.chat_local_date
            order by user_days.chats_with_handover_requests = 0, user_days.channel
        ) = 1 as is_first_handover_row_of_day,
        -- the latest local date before this row's: over every channel (a range frame on dates:
        -- the rows of the same date in other channels are not before it), then in this channel
        max(user_days.chat_local_date) over earlier_dates as previous_chat_local_date,
        lag(user_days.chat_local_date) over channel_dates as previous_chat_local_date_in_channel,
        max(case when user_days.chats_with_handover_requests > 0 then user_days.chat_local_date end)
            over earlier_dates as previous_handover_chat_local_date,
        max(case when user_days.chats_with_handover_requests > 0 then user_days.chat_local_date end)
            over earlier_dates_in_channel as previous_handover_chat_local_date_in_channel,
        users.device_type,
        users.user_agent_device_type,
        users.browser,
        {{ refresh_stamp() }} as refreshed_at

    from user_days
    inner join users
        on user_days.assistant_id = users.assistant_id and user_days.user_id = users.user_id
    window
        -- ordered by day number: a range frame of whole days that both engines accept
        earlier_dates as (
            partition by user_days.assistant_id, user_days.user_id
            order by {{ days_between("cast('1970-01-01' as date)", 'user_days.chat_local_date') }}
            range between unbounded preceding and 1 preceding
        ),
        channel_dates as (
            partition by user_days.assistant_id, user_days.user_id, user_days.channel
            order by user_days.chat_local_date
        ),
        earlier_dates_in_channel as (
            partition by user_days.assistant_id, user_days.user_id, user_days.channel
            order by user_days.chat_local_date
            rows between unbounded preceding and 1 preceding
        )

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
