-- Users (kpis.md "Users": total, new, returning, by_device; Engagement; the users behind the
-- Handover rate) and the daily series' users and new_users. Reads marts.fct_users.
--
-- fct_users is at user x channel x local day grain: distinct users are counted over its rows
-- (never a sum of daily counts): per period, one row per user (grouped by user); per local date
-- of the current period, count(distinct user_id). A user's device fields are the same on all
-- their rows (from dim_users), so any_value is exact. Under a channel filter a user's first chat
-- is their first chat in that channel (kpis.md ground rule 5); a user is new on the date of it.
-- Rows with a null chat_local_date are a period's, the others a local date's.
with in_either_period as materialized (
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
per_user as materialized (
    select
        is_current,
        min(first_chat_local_date) as first_chat_local_date,
        sum(chats_with_handover_requests) > 0 as has_handover_requests,
        any_value(device_type) as device_type,
        any_value(browser) as browser
    from in_either_period
    group by is_current, user_id
),
device_list as (
    -- interfaces.md order: users descending, then device_type, then browser
    select is_current,
           list(struct_pack(device_type, browser, users)
                order by users desc, device_type, browser nulls last) as by_device
    from (select is_current, device_type, browser, count(*) as users from per_user group by all)
    group by is_current
),
period_users as (
    select
        is_current,
        count(*) as users,
        count(*) filter (where first_chat_local_date >= case when is_current then $date_from else $prev_from end)
            as new_users,
        count(*) filter (where first_chat_local_date < case when is_current then $date_from else $prev_from end)
            as returning_users,
        count(*) filter (where has_handover_requests) as users_with_handover_requests
    from per_user
    group by is_current
),
day_users as (
    select
        chat_local_date,
        count(distinct user_id) as users,
        count(distinct user_id) filter (where chat_local_date = first_chat_local_date) as new_users
    from in_either_period
    where is_current
    group by chat_local_date
)
select period_users.is_current, null::date as chat_local_date, period_users.users, period_users.new_users,
       period_users.returning_users, period_users.users_with_handover_requests, device_list.by_device
from period_users
left join device_list using (is_current)
union all
select true, chat_local_date, users, new_users, null, null, null
from day_users
