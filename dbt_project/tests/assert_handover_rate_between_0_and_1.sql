{{ config(meta={'dagster': {'ref': {'name': 'fct_handover'}}}) }}
-- kpis.md "Handover": rate = active users with at least one request / active users (users with a
-- chat in the period), in [0, 1]. Per assistant and local day: the users fct_handover sees must
-- be exactly the active users of fct_users (fct_handover has a row for every chat), the users
-- with requests must be exactly the users owning a handover_request event (int_events_sessionized,
-- not the classified requests fct_handover counts) that belongs to one of that day's chats, and the
-- resulting rate must lie in [0, 1]. Returns the assistant-days that break any of this.
-- Scope: every figure is counted user by user, so an incremental refresh checks the affected
-- users (docs/incremental.md).

with

handover_users as (

    select assistant_id, chat_local_date, user_id, bool_or(has_requests) as has_requests
    from {{ recomputed_rows(ref('fct_handover')) }} as f
    group by assistant_id, chat_local_date, user_id

),

active_users as (

    select distinct assistant_id, chat_local_date, user_id
    from {{ recomputed_rows(ref('fct_users')) }} as u

),

requesters as (

    -- from the events, not from int_handover_requests_classified, which fct_handover counts
    select distinct chats.assistant_id, chats.chat_local_date, chats.user_id
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as requests
    inner join {{ recomputed_rows(ref('dim_chats')) }} as chats on requests.session_id = chats.chat_id
    where requests.event_type = 'handover_request'

),

users as (

    select
        coalesce(handover_users.assistant_id, active_users.assistant_id) as assistant_id,
        coalesce(handover_users.chat_local_date, active_users.chat_local_date) as chat_local_date,
        coalesce(handover_users.user_id, active_users.user_id) as user_id,
        handover_users.user_id is not null as in_handover,
        active_users.user_id is not null as is_active,
        coalesce(handover_users.has_requests, false) as has_requests,
        requesters.user_id is not null as expected_has_requests

    from handover_users
    full outer join active_users
        on handover_users.assistant_id = active_users.assistant_id
            and handover_users.chat_local_date = active_users.chat_local_date
            and handover_users.user_id = active_users.user_id
    left join requesters
        on requesters.assistant_id = coalesce(handover_users.assistant_id, active_users.assistant_id)
            and requesters.chat_local_date = coalesce(handover_users.chat_local_date, active_users.chat_local_date)
            and requesters.user_id = coalesce(handover_users.user_id, active_users.user_id)

),

per_day as (

    select
        assistant_id,
        chat_local_date,
        count(*) filter (where is_active) as active_users,
        count(*) filter (where is_active and has_requests) as users_with_requests,
        count(*) filter (where in_handover <> is_active or has_requests <> expected_has_requests)
            as mismatched_users

    from users
    group by assistant_id, chat_local_date

),

rates as (

    select *, users_with_requests / nullif(active_users, 0) as handover_rate
    from per_day

)

select * from rates
where mismatched_users > 0
    or handover_rate is null
    or handover_rate < 0
    or handover_rate > 1
