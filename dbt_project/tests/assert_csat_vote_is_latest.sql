{{ config(meta={'dagster': {'ref': {'name': 'fct_csat'}}}) }}
-- kpis.md "CSAT": a chat's vote is its latest csat event, the one no other csat event of the
-- same chat follows in (occurred_at, event_id) order. Recomputed from the sessionized events and
-- returns the chats whose fct_csat score is not that event's score. Scope: per chat, so an
-- incremental refresh checks the affected users' chats (docs/incremental.md).

with

votes as (

    select events.session_id, events.event_id, events.occurred_at, events.csat_score
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as events
    inner join {{ recomputed_rows(ref('dim_chats')) }} as chats on events.session_id = chats.chat_id
    where events.event_type = 'csat'

),

latest as (

    select * from votes
    where not exists (
            select 1 from votes as later
            where later.session_id = votes.session_id
                and (
                    later.occurred_at > votes.occurred_at
                    or (later.occurred_at = votes.occurred_at and later.event_id > votes.event_id)
                )
        )

),

actual as (

    select * from {{ recomputed_rows(ref('fct_csat')) }} as f

)

select
    coalesce(latest.session_id, actual.chat_id) as chat_id,
    latest.csat_score as expected_score,
    actual.score

from latest
full outer join actual on latest.session_id = actual.chat_id
where latest.csat_score is distinct from actual.score
