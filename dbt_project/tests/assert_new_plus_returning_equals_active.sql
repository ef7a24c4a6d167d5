{{ config(meta={'dagster': {'ref': {'name': 'fct_engagement'}}}) }}
-- kpis.md "Users": new + returning = active, where active users of a period are the users with a
-- chat starting in it, new users are those whose first chat (over all history) is in it and
-- returning users those whose first chat is before it. Checked the way an analyst queries
-- fct_engagement (count(distinct user_id) over the period's rows; per user the min of
-- first_chat_local_date), for every assistant, for every single local day and every ISO week
-- (Monday..Sunday, local dates), without a channel filter and with each channel as filter (then
-- first_chat_local_date_in_channel applies: only that channel's chats exist). The new users must
-- also be exactly the users whose first chat in dim_chats (is_first_chat, or
-- is_first_chat_in_channel under a filter) starts in the period.
-- Returning rate (returning / active) lies in [0, 1] exactly when new + returning = active with
-- no active user lacking a first chat in or before the period: checked here for every period.
-- Returns one row per (assistant, channel filter, period) whose counts disagree.
-- Scope: every count is a sum over users and each user's new/returning status is their own, so
-- the check holds for any subset of users: an incremental refresh checks the affected users
-- (docs/incremental.md).

with

engagement as (

    select * from {{ recomputed_rows(ref('fct_engagement')) }} as e

),

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

periods as (

    select distinct
        assistant_id, 'day' as period_kind,
        chat_local_date as period_from, chat_local_date as period_to
    from engagement

    union

    select distinct
        assistant_id, 'week' as period_kind,
        cast(date_trunc('week', chat_local_date) as date) as period_from,
        cast(date_trunc('week', chat_local_date) as date) + 6 as period_to
    from engagement

),

channel_filters as (

    select distinct assistant_id, cast(null as {{ dbt.type_string() }}) as channel_filter from engagement
    union all
    select distinct assistant_id, channel as channel_filter from engagement

),

active_users as (

    select
        periods.assistant_id,
        periods.period_kind,
        periods.period_from,
        periods.period_to,
        channel_filters.channel_filter,
        engagement.user_id,
        min(case when channel_filters.channel_filter is null then engagement.first_chat_local_date
            else engagement.first_chat_local_date_in_channel
        end) as first_chat_local_date

    from periods
    inner join channel_filters on periods.assistant_id = channel_filters.assistant_id
    inner join engagement
        on engagement.assistant_id = periods.assistant_id
            and engagement.chat_local_date between periods.period_from and periods.period_to
            and (channel_filters.channel_filter is null or engagement.channel = channel_filters.channel_filter)
    group by all

),

counted as (

    select
        assistant_id, period_kind, period_from, period_to, channel_filter,
        count(*) as active_users,
        count(*) filter (where first_chat_local_date between period_from and period_to) as new_users,
        count(*) filter (where first_chat_local_date < period_from) as returning_users,
        count(*) filter (where first_chat_local_date > period_to or first_chat_local_date is null)
            as users_without_a_possible_first_chat

    from active_users
    group by all

),

first_chats as (

    select assistant_id, cast(null as {{ dbt.type_string() }}) as channel_filter, user_id, chat_local_date
    from chats
    where is_first_chat

    union all

    select assistant_id, channel as channel_filter, user_id, chat_local_date
    from chats
    where is_first_chat_in_channel

),

expected_new as (

    select
        periods.assistant_id, periods.period_kind, periods.period_from, periods.period_to,
        first_chats.channel_filter,
        count(distinct first_chats.user_id) as new_users

    from periods
    inner join first_chats
        on first_chats.assistant_id = periods.assistant_id
            and first_chats.chat_local_date between periods.period_from and periods.period_to
    group by all

)

select
    coalesce(counted.assistant_id, expected_new.assistant_id) as assistant_id,
    coalesce(counted.period_kind, expected_new.period_kind) as period_kind,
    coalesce(counted.period_from, expected_new.period_from) as period_from,
    coalesce(counted.channel_filter, expected_new.channel_filter) as channel_filter,
    counted.active_users,
    counted.new_users,
    counted.returning_users,
    counted.users_without_a_possible_first_chat,
    expected_new.new_users as expected_new_users

from counted
full outer join expected_new
    on counted.assistant_id = expected_new.assistant_id
        and counted.period_kind = expected_new.period_kind
        and counted.period_from = expected_new.period_from
        and counted.channel_filter is not distinct from expected_new.channel_filter
where counted.assistant_id is null
    or counted.new_users + counted.returning_users <> counted.active_users
    or counted.users_without_a_possible_first_chat > 0
    or counted.new_users <> coalesce(expected_new.new_users, 0)
