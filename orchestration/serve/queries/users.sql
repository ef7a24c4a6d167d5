-- Users (kpis.md "Users": total, new, returning, by_device; Engagement; the users behind the
-- Handover rate) and the daily series' users and new_users. Reads marts.fct_users.
--
-- fct_users is at user x channel x local day grain: users are counted over its rows grouped by
-- user (never a sum of daily counts). One aggregation gives both grains: a user in a period, and
-- a user on a local date. A day is a period of one day: "new" is a first chat on or after the
-- start of the row's period or date, "returning" a first chat before it. A user's device fields
-- are the same on all their rows (from dim_users), so any_value is exact. Under a channel filter a
-- user's first chat is their first chat in that channel (kpis.md ground rule 5).
with in_either_period as (
    select
        chat_local_date >= $date_from as is_current,
        chat_local_date,
        user_id,
        case when $channel is null then first_chat_local_date
             else first_chat_local_date_in_channel end as first_chat_local_date,
        chats_with_handover_requests,
        coalesce(user_agent_device_type, $channel, device_type) as device_type,
        browser
    from marts.fct_users
    where assistant_id = $assistant
      and chat_local_date between $prev_from and $date_to
      and ($channel is null or channel = $channel)
),
per_user as (
    select
        is_current,
        chat_local_date,
        coalesce(chat_local_date, case when is_current then $date_from else $prev_from end) as starts_on,
        min(first_chat_local_date) as first_chat_local_date,
        sum(chats_with_handover_requests) > 0 as has_handover_requests,
        any_value(device_type) as device_type,
        any_value(browser) as browser
    from in_either_period
    group by grouping sets ((is_current, user_id), (is_current, chat_local_date, user_id))
),
by_device as (
    select is_current, device_type, browser, count(*) as users
    from per_user
    where chat_local_date is null
    group by all
),
device_list as (
    -- interfaces.md order: users descending, then device_type, then browser
    select is_current,
           list(struct_pack(device_type, browser, users)
                order by users desc, device_type, browser nulls last) as by_device
    from by_device
    group by is_current
),
counted as (
    select
        is_current,
        chat_local_date,
        count(*) as users,
        count(*) filter (where first_chat_local_date >= starts_on) as new_users,
        count(*) filter (where first_chat_local_date < starts_on) as returning_users,
        count(*) filter (where has_handover_requests) as users_with_handover_requests
    from per_user
    group by all
)
select counted.*, device_list.by_device
from counted
left join device_list on device_list.is_current = counted.is_current and counted.chat_local_date is null
