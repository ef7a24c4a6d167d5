{{ user_keyed_incremental() }}

{#- Answers module (kpis.md "Beyond the platform"): one row per chat with its answers
    (bot_message events) and fallbacks (those with is_fallback). #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

final as (

    select
        {{ chat_key_columns() }},
        bot_messages as answers,
        fallbacks,
        fallbacks > 0 as has_fallback,
        {{ refresh_stamp() }} as refreshed_at

    from chats

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
