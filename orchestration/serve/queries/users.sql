-- Users (kpis.md "Users": total, new, returning, by_device; Engagement; the users behind the
-- Handover rate) and the daily series' users and new_users. Reads marts.fct_users.
--
-- fct_users is at user x channel x local day grain. Distinct users are counted as rows, no group
-- by user: a user active in a period is counted on the row where they enter it, the first row of
-- a day (over all channels, is_first_row_of_day) whose previous chat date is before the period's
-- first day (or null); likewise the users with a handover request, on their first row with one.
-- Under a channel filter there is one row per user and day, and the previous dates are those in
-- the channel (kpis.md ground rule 5: the user's first chat is their first in the channel too; a
-- user is new on its date). A user's device fields are the same on all their rows (dim_users), so
-- the row the user is counted on gives them. A date's users are its first rows of the day.
-- Rows with a null chat_local_date are a period's, the others a local date's.
with in_either_period as materialized (
    -- under a channel filter: every row of the channel stands for the user's day, and the user's
    -- history is in the channel (the names differ from fct_users' columns, which they choose between)
    select
        is_current,
        chat_local_date,
        period_from,
        is_day_row,
        first_date,
        device_type,
        browser,
        -- the user's first row in the period: no row of theirs earlier in it
        is_day_row and coalesce(previous_date < period_from, true) as is_users_first_row_in_period,
        is_handover_day_row and coalesce(previous_handover_date < period_from, true)
            as is_users_first_handover_row_in_period
    from (
        select
            chat_local_date >= $date_from as is_current,
            chat_local_date,
            case when chat_local_date >= $date_from then $date_from else $prev_from end as period_from,
            $channel is not null or is_first_row_of_day as is_day_row,
            case when $channel is null then previous_chat_local_date
                else previous_chat_local_date_in_channel
            end as previous_date,
            case when $channel is null then is_first_handover_row_of_day
                else chats_with_handover_requests > 0
            end as is_handover_day_row,
            case when $channel is null then previous_handover_chat_local_date
                else previous_handover_chat_local_date_in_channel
            end as previous_handover_date,
            case when $channel is null then first_chat_local_date
                else first_chat_local_date_in_channel
            end as first_date,
            coalesce(user_agent_device_type, $channel, device_type) as device_type,
            browser
        from marts.fct_users
        where assistant_id = $assistant
            and chat_local_date between $prev_from and $date_to
            and ($channel is null or channel = $channel)
    ) as user_days
),

device_list as (
    -- interfaces.md order: users descending, then device_type, then browser
    select
        is_current,
        list(
            struct_pack(device_type, browser, users)
            order by users desc, device_type asc, browser asc nulls last
        ) as by_device
    from (
        select is_current, device_type, browser, count(*) as users
        from in_either_period
        where is_users_first_row_in_period
        group by all
    ) as device_users
    group by is_current
),

period_users as (
    select
        is_current,
        count(*) filter (where is_users_first_row_in_period) as users,
        count(*) filter (where is_users_first_row_in_period and first_date >= period_from) as new_users,
        count(*) filter (where is_users_first_row_in_period and first_date < period_from)
            as returning_users,
        count(*) filter (where is_users_first_handover_row_in_period) as users_with_handover_requests
    from in_either_period
    group by is_current
),

day_users as (
    select
        chat_local_date,
        count(*) filter (where is_day_row) as users,
        count(*) filter (where is_day_row and chat_local_date = first_date) as new_users
    from in_either_period
    where is_current
    group by chat_local_date
)

select
    period_users.is_current, null::date as chat_local_date, period_users.users, period_users.new_users,
    period_users.returning_users, period_users.users_with_handover_requests, device_list.by_device
from period_users
left join device_list using (is_current)
union all
select true, chat_local_date, users, new_users, null, null, null
from day_users
