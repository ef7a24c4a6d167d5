-- kpis.md "Clicks": the click events of the chats, per (click_type, title, destination_type,
-- destination). Per chat, the fct_clicks rows must add up to the chat's click events
-- (dim_chats.clicks), and every row must count at least one click. Returns the chats that differ.
-- Scope: per chat, so an incremental refresh checks the affected users' chats
-- (macros/test_scope.sql).

with

clicks as (

    select chat_id, sum(clicks) as clicks, min(clicks) as smallest_row
    from {{ ref('fct_clicks') }} as f
    where {{ in_refresh_scope('f') }}
    group by chat_id

),

chats as (

    select chat_id, clicks from {{ ref('dim_chats') }} as c
    where clicks > 0 and {{ in_refresh_scope('c') }}

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
