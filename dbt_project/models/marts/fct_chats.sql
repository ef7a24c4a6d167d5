{{ user_keyed_incremental() }}

{#- Chats module: one row per chat with its start, end and duration. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

final as (

    select
        {{ chat_key_columns() }},
        started_at,
        ended_at,
        started_local_at,
        duration_seconds,
        {{ refresh_stamp() }} as refreshed_at

    from chats

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
