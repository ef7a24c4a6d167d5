{{ user_keyed_incremental() }}

{#- CSAT module: one row per chat that voted; its vote is its latest csat event. #}

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

votes as (

    select * from {{ recomputed_rows(ref('int_events_sessionized')) }} as e
    where event_type = 'csat'

),

latest_votes as (

    select
        session_id,
        csat_score,
        count(*) over (partition by session_id) as csat_events,
        row_number() over (partition by session_id order by occurred_at desc, event_id desc) as recency_rank

    from votes

),

final as (

    select
        {{ chat_key_columns('chats') }},
        latest_votes.csat_score as score,
        latest_votes.csat_events,
        {{ refresh_stamp() }} as refreshed_at

    from chats
    inner join latest_votes on chats.chat_id = latest_votes.session_id
    where latest_votes.recency_rank = 1

)

-- stored in (assistant, local date) order: a filter on both (the report, a BI tool) reads only
-- the row groups whose min/max match, and an incremental refresh appends its rows sorted too
select * from final
order by assistant_id, chat_local_date
