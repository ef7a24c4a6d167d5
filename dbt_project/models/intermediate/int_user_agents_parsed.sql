{#- Device type and browser of each distinct User-Agent string of the kept events (kpis.md
    "Users"). The families are uap-core's, as the `ua-parser` package gave them to the loader
    (stg_platform__user_agents); the device type follows kpis.md's rule over them. A string the
    loader did not parse gets null families, which the not-null test reports, rather than a guess.
    Rebuilt each run, so a string whose events a re-delivery removed disappears, exactly as in a
    full rebuild. #}

with

events as (

    select * from {{ ref('int_events_deduplicated') }}

),

parsed_user_agents as (

    select * from {{ ref('stg_platform__user_agents') }}

),

user_agents as (

    select distinct user_agent
    from events
    where user_agent is not null

),

final as (

    select
        user_agents.user_agent,
        -- kpis.md "Users": tablet for an iPad device or an Android OS without "Mobile" in the
        -- string; mobile for an iOS or Android OS or "Mobile" in the string; else desktop
        case
            when parsed.device_family is null then null
            when parsed.device_family = 'iPad'
                or (parsed.os_family = 'Android' and user_agents.user_agent not like '%Mobile%') then 'tablet'
            when parsed.os_family in ('iOS', 'Android') or user_agents.user_agent like '%Mobile%' then 'mobile'
            else 'desktop'
        end as device_type,
        parsed.browser

    from user_agents
    left join parsed_user_agents as parsed
        on user_agents.user_agent = parsed.user_agent

)

select * from final
