{{ config(meta={'dagster': {'ref': {'name': 'dim_chats'}}}) }}
-- kpis.md "Chats (sessions)": a chat is counted once. dim_chats and every mart at chat grain hold
-- one row per chat_id. Returns, per mart, the chat_ids that have more than one row. One test for
-- the eight marts (a test per mart cost a dbt node each on every refresh). Scope: per user, so an
-- incremental refresh checks the recomputed users' rows (docs/incremental.md): a chat_id belongs
-- to one user's rows.

with

chat_ids as (

    {% for mart in ['dim_chats', 'fct_chats', 'fct_messages', 'fct_handover', 'fct_feedback',
                    'fct_csat', 'fct_outcomes', 'fct_answers'] %}
        select '{{ mart }}' as mart, chat_id from {{ recomputed_rows(ref(mart)) }} as m
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    mart,
    chat_id,
    count(*) as chat_rows

from chat_ids
group by mart, chat_id
having count(*) > 1
