{{ user_keyed_incremental() }}

{#- Traffic module: messages (user, bot, operator) that belong to a chat, counted by their own local
    date, ISO weekday and hour; kept per user so a refresh can replace one user's rows. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

messages as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where event_type in ('user_message', 'bot_message', 'operator_message')

),

chat_messages as (

    select messages.*
    from messages
    inner join chats on messages.session_id = chats.chat_id

),

final as (

    select
        assistant_id,
        channel,
        user_id,
        occurred_local_date as local_date,
        cast({{ iso_weekday('occurred_local_at') }} as integer) as local_weekday,
        cast(extract(hour from occurred_local_at) as integer) as local_hour,
        count(*) as messages,
        count(*) filter (where event_type = 'user_message') as user_messages,
        count(*) filter (where event_type = 'bot_message') as bot_messages,
        count(*) filter (where event_type = 'operator_message') as operator_messages,
        {{ refresh_stamp() }} as refreshed_at

    from chat_messages
    group by 1, 2, 3, 4, 5, 6

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, local_date
