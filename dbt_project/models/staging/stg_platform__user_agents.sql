with

user_agents as (

    select * from {{ source('platform', 'user_agents') }}

),

renamed as (

    select
        user_agent,
        browser,
        os_family,
        device_family

    from user_agents

)

select * from renamed
