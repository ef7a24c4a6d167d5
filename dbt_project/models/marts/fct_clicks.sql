{{ user_keyed_incremental() }}

{#- Clicks module: clicks in chats per chat and (click_type, title, destination_type, destination). #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

clicks as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where event_type = 'click'

),

final as (

    select
        {{ chat_key_columns('chats') }},
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
