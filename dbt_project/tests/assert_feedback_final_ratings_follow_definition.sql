{{ config(meta={'dagster': {'ref': {'name': 'fct_feedback'}}}) }}
-- kpis.md "Feedback", recomputed independently of the feedback models: the reviewable answers of a
-- chat are its bot_message events with reviewable = true; an answer's final rating is the value of
-- the latest feedback event for (assistant_id, message_id) in (occurred_at, event_id) order, from
-- any chat or user; null (retracted) or no feedback at all means no_feedback; ratings of
-- non-reviewable answers count nowhere. Compares the per-chat counts with fct_feedback (every chat
-- of dim_chats, zeros included) and returns the chats that differ. Scope: per chat, so an
-- incremental refresh checks the affected users' chats and answers (docs/incremental.md). The
-- feedback side is not narrowed by user: a feedback event may rate an answer of another user (the
-- loader then marks the answer's owner as affected), so every user's feedback on the answers in
-- scope counts.

with

answers as (

    -- the sessionized bot_message events carry their message_id and reviewable flag from staging
    -- (assert_sessionization_covers_every_event holds them to it); joining staging back in would
    -- read the whole history twice
    select session_id, assistant_id, message_id
    from {{ recomputed_rows(ref('int_events_sessionized')) }} as sessionized
    where event_type = 'bot_message' and is_reviewable

),

feedback as (

    select feedback.*
    from {{ ref('int_events_deduplicated') }} as feedback
    {{ semi_join() }} answers
        on feedback.assistant_id = answers.assistant_id and feedback.message_id = answers.message_id
    where feedback.event_type = 'feedback'

),

final_ratings as (

    select assistant_id, message_id, feedback_value as final_rating
    from (
        select
            *,
            row_number() over (
                partition by assistant_id, message_id order by occurred_at desc, event_id desc
            ) as recency_rank
        from feedback
    ) as ranked
    where recency_rank = 1

),

expected as (

    select
        chats.chat_id,
        count(answers.message_id) as reviewable,
        count(*) filter (where final_ratings.final_rating = 'positive') as positive,
        count(*) filter (where final_ratings.final_rating = 'negative') as negative,
        count(answers.message_id) filter (where final_ratings.final_rating is null) as no_feedback

    from {{ recomputed_rows(ref('dim_chats')) }} as chats
    left join answers on answers.session_id = chats.chat_id
    left join final_ratings
        on answers.assistant_id = final_ratings.assistant_id
            and answers.message_id = final_ratings.message_id
    group by chats.chat_id

),

actual as (

    select * from {{ recomputed_rows(ref('fct_feedback')) }} as f

)

select
    coalesce(expected.chat_id, actual.chat_id) as chat_id,
    expected.reviewable as expected_reviewable, actual.reviewable,
    expected.positive as expected_positive, actual.positive,
    expected.negative as expected_negative, actual.negative,
    expected.no_feedback as expected_no_feedback, actual.no_feedback

from expected
full outer join actual on expected.chat_id = actual.chat_id
where expected.chat_id is null
    or actual.chat_id is null
    or expected.reviewable <> actual.reviewable
    or expected.positive <> actual.positive
    or expected.negative <> actual.negative
    or expected.no_feedback <> actual.no_feedback
