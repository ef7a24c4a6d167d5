-- kpis.md "Chats": a chat's duration is ended_at - started_at in seconds, started_at its first
-- event and ended_at its last, so it is never negative. Returns chats (dim_chats, and fct_chats
-- where it disagrees with dim_chats) whose duration is negative, whose end precedes its start, or
-- whose duration_seconds is not the exact difference of the two instants. Scope: per chat, so an
-- incremental refresh checks the affected users' chats in both marts (docs/incremental.md).

with

chats as (

    select * from {{ recomputed_rows(ref('dim_chats')) }} as c

),

facts as (

    select * from {{ recomputed_rows(ref('fct_chats')) }} as f

)

select
    coalesce(chats.chat_id, facts.chat_id) as chat_id,
    chats.started_at,
    chats.ended_at,
    chats.duration_seconds,
    facts.duration_seconds as fct_duration_seconds

from chats
full outer join facts on chats.chat_id = facts.chat_id
where chats.duration_seconds < 0
    or chats.ended_at < chats.started_at
    or abs(
        chats.duration_seconds
        - ({{ epoch_microseconds('chats.ended_at') }} - {{ epoch_microseconds('chats.started_at') }}) / 1000000.0
    ) > 0.000001
    or facts.duration_seconds is distinct from chats.duration_seconds
    or facts.started_at is distinct from chats.started_at
    or facts.ended_at is distinct from chats.ended_at
