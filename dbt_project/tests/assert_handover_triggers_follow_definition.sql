{{ config(meta={'dagster': {'ref': {'name': 'fct_handover'}}}) }}
-- kpis.md "Handover" by_trigger and by_mode, recomputed independently: a request is
-- operator_button if its via is button; else after_fallback if the latest bot_message before it
-- (in (occurred_at, event_id) order) in the same chat has is_fallback; else direct (also when no
-- bot_message precedes it). by_mode splits by mode (human_takeover, ticket). The latest prior
-- answer is found by a join and a rank per request, not by the model's running last_value()
-- window over the session. Compares every chat's counts with fct_handover (a chat without
-- requests has zeros) and returns the chats that differ, and the fct_handover rows whose trigger
-- or mode split does not add up to their requests or holds a negative count. Scope: per chat, so
-- an incremental refresh checks the affected users' chats (docs/incremental.md).

with

chat_events as (

    select events.*
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as events
    inner join {{ recomputed_rows(ref('dim_chats')) }} as chats on events.session_id = chats.chat_id
    where events.event_type in ('handover_request', 'bot_message')

),

requests as (

    select * from chat_events
    where event_type = 'handover_request'

),

answers as (

    select * from chat_events
    where event_type = 'bot_message'

),

previous_answer as (

    select
        requests.event_id as request_event_id,
        answers.is_fallback,
        row_number() over (
            partition by requests.event_id
            order by answers.occurred_at desc, answers.event_id desc
        ) as recency_rank

    from requests
    inner join answers
        on answers.session_id = requests.session_id
            and (
                answers.occurred_at < requests.occurred_at
                or (answers.occurred_at = requests.occurred_at and answers.event_id < requests.event_id)
            )

),

classified as (

    select
        requests.session_id,
        requests.handover_mode,
        case
            when requests.handover_via = 'button' then 'operator_button'
            when previous_answer.is_fallback then 'after_fallback'
            else 'direct'
        end as handover_trigger

    from requests
    left join previous_answer
        on previous_answer.request_event_id = requests.event_id
            and previous_answer.recency_rank = 1

),

expected as (

    -- counted as sums of indicators (the model counts with filters)
    select
        session_id as chat_id,
        sum(1) as requests,
        sum(case when handover_trigger = 'direct' then 1 else 0 end) as direct_requests,
        sum(case when handover_trigger = 'after_fallback' then 1 else 0 end) as after_fallback_requests,
        sum(case when handover_trigger = 'operator_button' then 1 else 0 end) as operator_button_requests,
        sum(case when handover_mode = 'human_takeover' then 1 else 0 end) as human_takeover_requests,
        sum(case when handover_mode = 'ticket' then 1 else 0 end) as ticket_requests

    from classified
    group by session_id

),

actual as (

    select * from {{ recomputed_rows(ref('fct_handover')) }} as f

)

select
    coalesce(expected.chat_id, actual.chat_id) as chat_id,
    expected.requests as expected_requests, actual.requests,
    expected.direct_requests as expected_direct, actual.direct_requests,
    expected.after_fallback_requests as expected_after_fallback, actual.after_fallback_requests,
    expected.operator_button_requests as expected_operator_button, actual.operator_button_requests,
    expected.human_takeover_requests as expected_human_takeover, actual.human_takeover_requests,
    expected.ticket_requests as expected_ticket, actual.ticket_requests

from expected
full outer join actual on expected.chat_id = actual.chat_id
where actual.chat_id is null
    or (expected.chat_id is null and actual.requests <> 0)
    or coalesce(expected.requests, 0) <> actual.requests
    or coalesce(expected.direct_requests, 0) <> actual.direct_requests
    or coalesce(expected.after_fallback_requests, 0) <> actual.after_fallback_requests
    or coalesce(expected.operator_button_requests, 0) <> actual.operator_button_requests
    or coalesce(expected.human_takeover_requests, 0) <> actual.human_takeover_requests
    or coalesce(expected.ticket_requests, 0) <> actual.ticket_requests
    -- the splits add up (a mode outside the two would break by_mode)
    or actual.direct_requests + actual.after_fallback_requests + actual.operator_button_requests <> actual.requests
    or actual.human_takeover_requests + actual.ticket_requests <> actual.requests
    or least(
        actual.requests, actual.direct_requests, actual.after_fallback_requests,
        actual.operator_button_requests, actual.human_takeover_requests, actual.ticket_requests
    ) < 0
