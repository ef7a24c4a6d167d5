-- kpis.md "Chats (sessions)": a chat is counted once. dim_chats and every mart at chat grain hold
-- one row per chat_id. Returns, per mart, the chat_ids that have more than one row. One test for
-- the eight marts (a test per mart cost a dbt node each on every refresh). Scope: per user, so an
-- incremental refresh checks the recomputed users' rows (docs/incremental.md): a chat_id belongs
-- to one user's rows.

with

chat_ids as (

    select 'dim_chats' as mart, chat_id from {{ recomputed_rows(ref('dim_chats')) }} as m
    union all
    select 'fct_chats', chat_id from {{ recomputed_rows(ref('fct_chats')) }} as m
    union all
    select 'fct_messages', chat_id from {{ recomputed_rows(ref('fct_messages')) }} as m
    union all
    select 'fct_handover', chat_id from {{ recomputed_rows(ref('fct_handover')) }} as m
    union all
    select 'fct_feedback', chat_id from {{ recomputed_rows(ref('fct_feedback')) }} as m
    union all
    select 'fct_csat', chat_id from {{ recomputed_rows(ref('fct_csat')) }} as m
    union all
    select 'fct_outcomes', chat_id from {{ recomputed_rows(ref('fct_outcomes')) }} as m
    union all
    select 'fct_answers', chat_id from {{ recomputed_rows(ref('fct_answers')) }} as m

)

select
    mart,
    chat_id,
    count(*) as chat_rows

from chat_ids
group by mart, chat_id
having count(*) > 1
