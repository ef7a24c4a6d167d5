-- kpis.md "Traffic", recomputed independently: each user_message, bot_message and
-- operator_message event (staging) that belongs to a chat of dim_chats is counted in the cell of
-- its own occurred_at converted to the assistant's time zone (dim_assistants.timezone; UTC when
-- the assistant is missing from the seed): local date, ISO weekday, hour. Returns the
-- (assistant, channel, user, local date, hour) cells whose count differs from fct_traffic.
-- Scope: per user, so an incremental refresh checks the affected users' events, chats and cells
-- (macros/test_scope.sql).

with

chat_messages as (

    select
        events.assistant_id,
        events.channel,
        events.user_id,
        timezone(assistants.timezone, events.occurred_at) as occurred_local_at

    from {{ ref('stg_platform__events') }} as events
    inner join {{ ref('int_events_sessionized') }} as sessionized on events.event_id = sessionized.event_id
    inner join {{ ref('dim_chats') }} as chats on sessionized.session_id = chats.chat_id
    inner join {{ ref('dim_assistants') }} as assistants on events.assistant_id = assistants.assistant_id
    where events.event_type in ('user_message', 'bot_message', 'operator_message')
        and {{ in_refresh_scope('events') }}
        and {{ in_refresh_scope('sessionized') }}
        and {{ in_refresh_scope('chats') }}

),

expected as (

    select
        assistant_id, channel, user_id,
        cast(occurred_local_at as date) as local_date,
        isodow(occurred_local_at) as local_weekday,
        hour(occurred_local_at) as local_hour,
        count(*) as messages

    from chat_messages
    group by all

),

actual as (

    select * from {{ ref('fct_traffic') }} as t
    where {{ in_refresh_scope('t') }}

)

select
    coalesce(expected.assistant_id, actual.assistant_id) as assistant_id,
    coalesce(expected.channel, actual.channel) as channel,
    coalesce(expected.user_id, actual.user_id) as user_id,
    coalesce(expected.local_date, actual.local_date) as local_date,
    coalesce(expected.local_hour, actual.local_hour) as local_hour,
    expected.local_weekday as expected_weekday,
    actual.local_weekday,
    expected.messages as expected_messages,
    actual.messages

from expected
full outer join actual
    on expected.assistant_id = actual.assistant_id
    and expected.channel = actual.channel
    and expected.user_id = actual.user_id
    and expected.local_date = actual.local_date
    and expected.local_hour = actual.local_hour
where expected.messages is distinct from actual.messages
    or expected.local_weekday is distinct from actual.local_weekday
