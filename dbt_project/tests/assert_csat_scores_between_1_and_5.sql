{{ config(meta={'dagster': {'ref': {'name': 'fct_csat'}}}) }}
-- kpis.md "CSAT": votes are the chats with a csat event, each with one vote, a score 1..5 (so the
-- mean score lies in [1, 5] and the distribution has five buckets). Returns fct_csat rows with a
-- score outside 1..5 or no csat event, and chats where fct_csat and dim_chats.csat_events
-- disagree about having a vote (a chat with csat events but no row, or the reverse). Scope: per
-- chat, so an incremental refresh checks the affected users' chats (docs/incremental.md).

with

chats as (

    select chat_id, csat_events from {{ recomputed_rows(ref('dim_chats')) }} as c
    where csat_events > 0

),

votes as (

    select * from {{ recomputed_rows(ref('fct_csat')) }} as f

)

select
    coalesce(votes.chat_id, chats.chat_id) as chat_id,
    votes.score,
    votes.csat_events,
    chats.csat_events as chat_csat_events

from votes
full outer join chats on votes.chat_id = chats.chat_id
where votes.chat_id is null
    or chats.chat_id is null
    or votes.score is null
    or votes.score not between 1 and 5
    or votes.csat_events < 1
    or votes.csat_events <> chats.csat_events
