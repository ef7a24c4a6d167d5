{#- The chat-grain modules summed per (assistant, channel, chat local date): what the report and
    the dashboard read instead of one row per chat, so that their cost follows the days of the
    period, not its chats. Every column is a count or an integer sum (the chats' durations in whole
    microseconds), so any set of days sums to exactly what the per-chat marts give for it; averages
    and ratios are taken over the summed days by the report (kpis.md rule 6).

    Rebuilt whole on every run, like data_quality_daily: a refresh recomputes its users' chats on
    every day of their history, and the rows it deletes from the per-chat marts are gone before
    this model could subtract them, so only a rebuild is exact whatever a refresh changed. It reads
    the per-chat marts' key and count columns once per run (docs/benchmark.md). #}

with

chats as (

    select * from {{ ref('fct_chats') }}

),

messages as (

    select * from {{ ref('fct_messages') }}

),

handover as (

    select * from {{ ref('fct_handover') }}

),

outcomes as (

    select * from {{ ref('fct_outcomes') }}

),

answers as (

    select * from {{ ref('fct_answers') }}

),

csat as (

    select * from {{ ref('fct_csat') }}

),

feedback as (

    select * from {{ ref('fct_feedback') }}

),

chats_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        count(*) as chats,
        count(duration_seconds) as chats_with_duration,
        -- whole microseconds: an integer sum is the same in any order and on any engine
        cast(sum({{ epoch_microseconds('ended_at') }} - {{ epoch_microseconds('started_at') }}) as bigint)
            as duration_microseconds

    from chats
    group by assistant_id, channel, chat_local_date

),

messages_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        cast(sum(user_messages) as bigint) as user_messages

    from messages
    group by assistant_id, channel, chat_local_date

),

handover_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        cast(sum(requests) as bigint) as handover_requests,
        count(case when has_requests then 1 end) as chats_with_handover_requests,
        count(case when not has_requests then 1 end) as chats_without_handover_requests,
        cast(sum(direct_requests) as bigint) as direct_requests,
        cast(sum(after_fallback_requests) as bigint) as after_fallback_requests,
        cast(sum(operator_button_requests) as bigint) as operator_button_requests,
        cast(sum(human_takeover_requests) as bigint) as human_takeover_requests,
        cast(sum(ticket_requests) as bigint) as ticket_requests

    from handover
    group by assistant_id, channel, chat_local_date

),

outcomes_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        count(*) as chats_with_outcome,
        count(case when outcome = 'resolved' then 1 end) as resolved_chats,
        count(case when outcome = 'abandoned' then 1 end) as abandoned_chats,
        count(case when outcome = 'escalated' then 1 end) as escalated_chats

    from outcomes
    group by assistant_id, channel, chat_local_date

),

answers_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        cast(sum(answers) as bigint) as answers,
        cast(sum(fallbacks) as bigint) as fallbacks,
        count(case when has_fallback then 1 end) as chats_with_fallback

    from answers
    group by assistant_id, channel, chat_local_date

),

csat_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        count(*) as csat_votes,
        cast(sum(score) as bigint) as csat_score_sum,
        count(case when score = 1 then 1 end) as csat_score_1,
        count(case when score = 2 then 1 end) as csat_score_2,
        count(case when score = 3 then 1 end) as csat_score_3,
        count(case when score = 4 then 1 end) as csat_score_4,
        count(case when score = 5 then 1 end) as csat_score_5

    from csat
    group by assistant_id, channel, chat_local_date

),

feedback_by_day as (

    select
        assistant_id,
        channel,
        chat_local_date,
        cast(sum(reviewable) as bigint) as reviewable,
        cast(sum(positive) as bigint) as positive,
        cast(sum(negative) as bigint) as negative,
        cast(sum(no_feedback) as bigint) as no_feedback,
        count(case when feedback_class = 'only_positive' then 1 end) as only_positive_chats,
        count(case when feedback_class = 'more_positive' then 1 end) as more_positive_chats,
        count(case when feedback_class = 'balanced' then 1 end) as balanced_chats,
        count(case when feedback_class = 'more_negative' then 1 end) as more_negative_chats,
        count(case when feedback_class = 'only_negative' then 1 end) as only_negative_chats,
        count(case when feedback_class = 'no_feedback' then 1 end) as no_feedback_chats

    from feedback
    group by assistant_id, channel, chat_local_date

),

-- every day any of the marts has a row for (each of them is one row per chat of dim_chats, so
-- fct_chats alone should name them all; the union does not rely on it)
days as (

    select assistant_id, channel, chat_local_date from chats_by_day
    union
    select assistant_id, channel, chat_local_date from messages_by_day
    union
    select assistant_id, channel, chat_local_date from handover_by_day
    union
    select assistant_id, channel, chat_local_date from outcomes_by_day
    union
    select assistant_id, channel, chat_local_date from answers_by_day
    union
    select assistant_id, channel, chat_local_date from csat_by_day
    union
    select assistant_id, channel, chat_local_date from feedback_by_day

),

final as (

    select
        days.assistant_id,
        days.channel,
        days.chat_local_date,
        coalesce(chats_by_day.chats, 0) as chats,
        coalesce(chats_by_day.chats_with_duration, 0) as chats_with_duration,
        coalesce(chats_by_day.duration_microseconds, 0) as duration_microseconds,
        coalesce(messages_by_day.user_messages, 0) as user_messages,
        coalesce(handover_by_day.handover_requests, 0) as handover_requests,
        coalesce(handover_by_day.chats_with_handover_requests, 0) as chats_with_handover_requests,
        coalesce(handover_by_day.chats_without_handover_requests, 0) as chats_without_handover_requests,
        coalesce(handover_by_day.direct_requests, 0) as direct_requests,
        coalesce(handover_by_day.after_fallback_requests, 0) as after_fallback_requests,
        coalesce(handover_by_day.operator_button_requests, 0) as operator_button_requests,
        coalesce(handover_by_day.human_takeover_requests, 0) as human_takeover_requests,
        coalesce(handover_by_day.ticket_requests, 0) as ticket_requests,
        coalesce(outcomes_by_day.chats_with_outcome, 0) as chats_with_outcome,
        coalesce(outcomes_by_day.resolved_chats, 0) as resolved_chats,
        coalesce(outcomes_by_day.abandoned_chats, 0) as abandoned_chats,
        coalesce(outcomes_by_day.escalated_chats, 0) as escalated_chats,
        coalesce(answers_by_day.answers, 0) as answers,
        coalesce(answers_by_day.fallbacks, 0) as fallbacks,
        coalesce(answers_by_day.chats_with_fallback, 0) as chats_with_fallback,
        coalesce(csat_by_day.csat_votes, 0) as csat_votes,
        coalesce(csat_by_day.csat_score_sum, 0) as csat_score_sum,
        coalesce(csat_by_day.csat_score_1, 0) as csat_score_1,
        coalesce(csat_by_day.csat_score_2, 0) as csat_score_2,
        coalesce(csat_by_day.csat_score_3, 0) as csat_score_3,
        coalesce(csat_by_day.csat_score_4, 0) as csat_score_4,
        coalesce(csat_by_day.csat_score_5, 0) as csat_score_5,
        coalesce(feedback_by_day.reviewable, 0) as reviewable,
        coalesce(feedback_by_day.positive, 0) as positive,
        coalesce(feedback_by_day.negative, 0) as negative,
        coalesce(feedback_by_day.no_feedback, 0) as no_feedback,
        coalesce(feedback_by_day.only_positive_chats, 0) as only_positive_chats,
        coalesce(feedback_by_day.more_positive_chats, 0) as more_positive_chats,
        coalesce(feedback_by_day.balanced_chats, 0) as balanced_chats,
        coalesce(feedback_by_day.more_negative_chats, 0) as more_negative_chats,
        coalesce(feedback_by_day.only_negative_chats, 0) as only_negative_chats,
        coalesce(feedback_by_day.no_feedback_chats, 0) as no_feedback_chats

    from days
    left join chats_by_day
        on days.assistant_id = chats_by_day.assistant_id and days.channel = chats_by_day.channel
            and days.chat_local_date = chats_by_day.chat_local_date
    left join messages_by_day
        on days.assistant_id = messages_by_day.assistant_id and days.channel = messages_by_day.channel
            and days.chat_local_date = messages_by_day.chat_local_date
    left join handover_by_day
        on days.assistant_id = handover_by_day.assistant_id and days.channel = handover_by_day.channel
            and days.chat_local_date = handover_by_day.chat_local_date
    left join outcomes_by_day
        on days.assistant_id = outcomes_by_day.assistant_id and days.channel = outcomes_by_day.channel
            and days.chat_local_date = outcomes_by_day.chat_local_date
    left join answers_by_day
        on days.assistant_id = answers_by_day.assistant_id and days.channel = answers_by_day.channel
            and days.chat_local_date = answers_by_day.chat_local_date
    left join csat_by_day
        on days.assistant_id = csat_by_day.assistant_id and days.channel = csat_by_day.channel
            and days.chat_local_date = csat_by_day.chat_local_date
    left join feedback_by_day
        on days.assistant_id = feedback_by_day.assistant_id and days.channel = feedback_by_day.channel
            and days.chat_local_date = feedback_by_day.chat_local_date

)

select * from final
order by assistant_id, chat_local_date, channel
