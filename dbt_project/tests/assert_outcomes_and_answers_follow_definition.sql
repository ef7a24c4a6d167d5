{{ config(meta={'dagster': {'ref': {'name': 'fct_outcomes'}}}) }}
-- kpis.md "Outcomes" and "Answers", recomputed independently from the chats' events: a chat is
-- escalated when it holds a handover_request or an operator_message; otherwise abandoned when the
-- latest of its user_message, click and bot_message events (in (occurred_at, event_id) order) is
-- a user_message, a click or a bot_message with is_fallback; otherwise resolved. Its answers are
-- its bot_message events, its fallbacks those with is_fallback. Compares every chat of dim_chats
-- with fct_outcomes and fct_answers and returns the chats that differ (or miss a row). Scope: per
-- chat, so an incremental refresh checks the affected users' chats (docs/incremental.md).

with

chats as (

    select chat_id from {{ recomputed_rows(ref('dim_chats')) }} as c

),

chat_events as (

    select events.session_id, events.event_id, events.event_type, events.occurred_at, events.is_fallback
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as events
    inner join chats on events.session_id = chats.chat_id

),

turns as (

    select
        session_id,
        event_type,
        is_fallback,
        row_number() over (
            partition by session_id order by occurred_at desc, event_id desc
        ) as turns_from_the_end

    from chat_events
    where event_type in ('user_message', 'click', 'bot_message')

),

last_turns as (

    select
        session_id,
        event_type in ('user_message', 'click') or (event_type = 'bot_message' and is_fallback)
            as ends_with_user_or_fallback

    from turns
    where turns_from_the_end = 1

),

escalations as (

    select distinct session_id
    from chat_events
    where event_type in ('handover_request', 'operator_message')

),

answer_counts as (

    select
        session_id,
        count(*) as answers,
        count(*) filter (where is_fallback) as fallbacks

    from chat_events
    where event_type = 'bot_message'
    group by session_id

),

expected as (

    select
        chats.chat_id,
        case
            when escalations.session_id is not null then 'escalated'
            when last_turns.ends_with_user_or_fallback then 'abandoned'
            else 'resolved'
        end as outcome,
        coalesce(answer_counts.answers, 0) as answers,
        coalesce(answer_counts.fallbacks, 0) as fallbacks

    from chats
    left join escalations on escalations.session_id = chats.chat_id
    left join last_turns on last_turns.session_id = chats.chat_id
    left join answer_counts on answer_counts.session_id = chats.chat_id

),

outcomes as (

    select * from {{ recomputed_rows(ref('fct_outcomes')) }} as o

),

answers as (

    select * from {{ recomputed_rows(ref('fct_answers')) }} as a

)

select
    coalesce(expected.chat_id, outcomes.chat_id, answers.chat_id) as chat_id,
    expected.outcome as expected_outcome, outcomes.outcome,
    expected.answers as expected_answers, answers.answers,
    expected.fallbacks as expected_fallbacks, answers.fallbacks, answers.has_fallback

from expected
full outer join outcomes on outcomes.chat_id = expected.chat_id
full outer join answers on answers.chat_id = coalesce(expected.chat_id, outcomes.chat_id)
where expected.chat_id is null
    or outcomes.chat_id is null
    or answers.chat_id is null
    or expected.outcome <> outcomes.outcome
    or outcomes.is_contained <> (expected.outcome <> 'escalated')
    or expected.answers <> answers.answers
    or expected.fallbacks <> answers.fallbacks
    or answers.has_fallback <> (expected.fallbacks > 0)
