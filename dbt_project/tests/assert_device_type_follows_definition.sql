{{ config(meta={'dagster': {'ref': {'name': 'dim_users'}}}) }}
-- kpis.md "Users", device and browser: they come from the user_agent of the user's earliest
-- valid event of a known type that has one (any type, chat or not, by (occurred_at, event_id)),
-- parsed with uap-core's rules (the families the loader got from the `ua-parser` package:
-- stg_platform__user_agents): tablet for an iPad device or an Android OS without "Mobile" in the
-- string; mobile for an iOS or Android OS or "Mobile" in the string; else desktop. A user with no
-- user_agent at all has device_type = the channel of their first chat and browser null. Returns
-- the dim_users rows whose user agent choice, device_type or browser break this, and those whose
-- earliest user agent the loader never parsed. Scope: per user, so an incremental refresh checks
-- the affected users (docs/incremental.md).

with

events_with_agent as (

    select * from {{ recomputed_rows(ref('int_events_deduplicated')) }} as e
    where is_known_type and user_agent is not null

),

earliest_agent as (

    select assistant_id, user_id, user_agent
    from (
        select
            *,
            row_number() over (partition by assistant_id, user_id order by occurred_at, event_id) as agent_rank
        from events_with_agent
    ) as ranked
    where agent_rank = 1

),

expected as (

    select
        users.assistant_id,
        users.user_id,
        case
            when earliest_agent.user_agent is null then null
            when parsed.user_agent is null then 'not parsed by the loader'
            when parsed.device_family = 'iPad'
                or (parsed.os_family = 'Android' and earliest_agent.user_agent not like '%Mobile%') then 'tablet'
            when parsed.os_family in ('iOS', 'Android') or earliest_agent.user_agent like '%Mobile%' then 'mobile'
            else 'desktop'
        end as expected_user_agent_device_type,
        parsed.browser as expected_browser,
        users.first_chat_channel

    from {{ recomputed_rows(ref('dim_users')) }} as users
    left join earliest_agent
        on users.assistant_id = earliest_agent.assistant_id and users.user_id = earliest_agent.user_id
    left join {{ ref('stg_platform__user_agents') }} as parsed on earliest_agent.user_agent = parsed.user_agent

),

with_fallback as (

    select
        *,
        coalesce(expected_user_agent_device_type, first_chat_channel) as expected_device_type
    from expected

)

select
    users.assistant_id,
    users.user_id,
    users.first_chat_channel,
    users.user_agent_device_type,
    expected.expected_user_agent_device_type,
    users.device_type,
    expected.expected_device_type,
    users.browser,
    expected.expected_browser

from {{ recomputed_rows(ref('dim_users')) }} as users
inner join with_fallback as expected
    on users.assistant_id = expected.assistant_id and users.user_id = expected.user_id
where users.user_agent_device_type is distinct from expected.expected_user_agent_device_type
    or users.device_type is distinct from expected.expected_device_type
    or users.browser is distinct from expected.expected_browser
