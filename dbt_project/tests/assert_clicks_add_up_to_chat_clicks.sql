{{ config(meta={'dagster': {'ref': {'name': 'fct_clicks'}}}) }}
-- kpis.md "Clicks": the click events of the chats, per (click_type, title, destination_type,
-- destination). Per chat, the fct_clicks rows must add up to the chat's click events
-- (dim_chats.clicks), and every row must count at least one click. Returns the chats that differ.
-- Scope: per chat, so an incremental refresh checks the affected users' chats
-- (docs/incremental.md).

with

clicks as (

    select chat_id, sum(clicks) as clicks, min(clicks) as smallest_row
    from {{ recomputed_rows(ref('fct_clicks')) }} as f
    group by chat_id

),

chats as (

    select chat_id, clicks from {{ recomputed_rows(ref('dim_chats')) }} as c
    where clicks > 0

)

select
    coalesce(chats.chat_id, clicks.chat_id) as chat_id,
    chats.clicks as chat_clicks,
    clicks.clicks as fct_clicks,
    clicks.smallest_row

from chats
full outer join clicks on chats.chat_id = clicks.chat_id
where chats.clicks is distinct from clicks.clicks
    or clicks.smallest_row < 1
