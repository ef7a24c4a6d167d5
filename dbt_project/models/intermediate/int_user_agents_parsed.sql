{#- Device type and browser of each distinct User-Agent string: the rules of uap-core (ua-parser)
    for the browser families web users send, as substring tests that read the same on DuckDB and
    Spark (a Python model would not run on Spark's session method). A string none of them matches
    is browser 'Other', as uap-core says of a string it does not know. Rebuilt each run, so a string
    whose events a re-delivery removed disappears, exactly as in a full rebuild. #}

with

user_agents as (

    select distinct user_agent
    from {{ ref('int_events_deduplicated') }}
    where user_agent is not null

),

with_platform as (

    select
        user_agent,
        user_agent like '%iPhone%' or user_agent like '%iPad%' or user_agent like '%iPod%' as is_ios,
        user_agent like '%Android%' as is_android,
        user_agent like '%Mobile%' as has_mobile

    from user_agents

),

final as (

    select
        user_agent,
        -- kpis.md "Users": tablet for an iPad or an Android without "Mobile"; mobile for iOS,
        -- Android or "Mobile"; else desktop
        case
            when user_agent like '%iPad%' or (is_android and not has_mobile) then 'tablet'
            when is_ios or is_android or has_mobile then 'mobile'
            else 'desktop'
        end as device_type,
        -- the first family whose marker the string has, in uap-core's order (a Chromium browser
        -- also says Chrome and Safari, Chrome also says Safari)
        case
            when user_agent like '%EdgA/%' or user_agent like '%EdgiOS/%' then 'Edge Mobile'
            when user_agent like '%Edg/%' or user_agent like '%Edge/%' then 'Edge'
            when user_agent like '%SamsungBrowser/%' then 'Samsung Internet'
            when user_agent like '%OPR/%' then 'Opera'
            when user_agent like '%CriOS/%' then 'Chrome Mobile iOS'
            when user_agent like '%FxiOS/%' then 'Firefox iOS'
            when user_agent like '%Firefox/%' and has_mobile then 'Firefox Mobile'
            when user_agent like '%Firefox/%' then 'Firefox'
            when user_agent like '%; wv)%' and user_agent like '%Chrome/%' then 'Chrome Mobile WebView'
            when is_android and has_mobile and user_agent like '%Chrome/%' then 'Chrome Mobile'
            when user_agent like '%Chrome/%' then 'Chrome'
            when is_ios and user_agent like '%Safari/%' then 'Mobile Safari'
            when is_ios then 'Mobile Safari UI/WKWebView'
            when user_agent like '%Version/%Safari/%' then 'Safari'
            else 'Other'
        end as browser

    from with_platform

)

select * from final
