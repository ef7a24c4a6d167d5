{{ user_keyed_incremental() }}

{#- Messages module: one row per chat with its message counts. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

final as (

    select
        {{ chat_key_columns() }},
        user_messages,
        bot_messages,
        operator_messages,
        {{ refresh_stamp() }} as refreshed_at

    from chats

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
