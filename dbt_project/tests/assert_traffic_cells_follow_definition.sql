{{ config(meta={'dagster': {'ref': {'name': 'fct_traffic'}}}) }}
-- kpis.md "Traffic", recomputed independently: each user_message, bot_message and
-- operator_message event (staging) that belongs to a chat of dim_chats is counted in the cell of
-- its own occurred_at converted to the assistant's time zone (dim_assistants.timezone; UTC when
-- the assistant is missing from the seed): local date, ISO weekday (1 = Monday), hour 0..23, per
-- message type. The model reads the local time int_events_sessionized computed from the seed; here
-- it is converted again from staging's instant. Returns the cells missing from or extra in
-- fct_traffic, or with another count (so a cell off the 7 x 24 grid, a weekday that is not its
-- date's, or messages that are not the sum of the three types fail too)
-- (macros/rows_missing_or_extra.sql: EXCEPTs spill where the full outer join it replaced ran out
-- of memory). Scope: per user, so an incremental refresh checks the affected
-- users' events, chats and cells (docs/incremental.md).

with

chat_messages as (

    select
        events.assistant_id,
        events.channel,
        events.user_id,
        events.event_type,
        {{ local_timestamp('events.occurred_at', 'assistants.timezone') }} as occurred_local_at

    from {{ recomputed_rows(ref('int_events_deduplicated')) }} as events
    inner join {{ recomputed_rows(ref('int_events_sessionized')) }} as sessionized
        on events.event_id = sessionized.event_id
    inner join {{ recomputed_rows(ref('dim_chats')) }} as chats on sessionized.session_id = chats.chat_id
    inner join {{ ref('dim_assistants') }} as assistants on events.assistant_id = assistants.assistant_id
    where events.event_type in ('user_message', 'bot_message', 'operator_message')
-- a chat and its events belong to one user: each side keeps the affected users' rows,
-- which the stamp finds by row-group min/max (semi joins on the users here ran out of
-- memory on a backfill under the default memory limit)

),

expected as (

    select
        assistant_id, channel, user_id,
        cast(occurred_local_at as date) as local_date,
        {{ iso_weekday('occurred_local_at') }} as local_weekday,
        hour(occurred_local_at) as local_hour,
        count(*) as messages,
        count(*) filter (where event_type = 'user_message') as user_messages,
        count(*) filter (where event_type = 'bot_message') as bot_messages,
        count(*) filter (where event_type = 'operator_message') as operator_messages

    from chat_messages
    group by all

),

actual as (

    select
        assistant_id, channel, user_id, local_date, local_weekday, local_hour, messages,
        user_messages, bot_messages, operator_messages
    from {{ recomputed_rows(ref('fct_traffic')) }} as t

),

final as (

    {{ rows_missing_or_extra('expected', 'actual') }}

)

select * from final
