{{ user_keyed_incremental_config() }}
-- depends_on: {{ ref('int_users_affected') }}

{#- Clicks module: clicks in chats per chat and (click_type, title, destination_type, destination). #}

with

chats as (

    select * from {{ ref('dim_chats') }} as c
    where {{ only_affected_users('c') }}

),

clicks as (

    select * from {{ ref('int_events_sessionized') }} as e
    where event_type = 'click' and {{ only_affected_users('e') }}

),

final as (

    select
        chats.chat_id,
        chats.assistant_id,
        chats.channel,
        chats.user_id,
        chats.chat_local_date,
        clicks.click_type,
        clicks.click_title as title,
        clicks.click_destination_type as destination_type,
        clicks.click_destination as destination,
        count(*) as clicks,
        {{ refresh_stamp() }} as refreshed_at

    from clicks
    inner join chats on clicks.session_id = chats.chat_id
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
