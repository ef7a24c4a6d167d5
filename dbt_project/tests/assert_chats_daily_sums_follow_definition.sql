{{ config(meta={'dagster': {'ref': {'name': 'fct_chats_daily'}}}) }}
-- fct_chats_daily holds one row for every (assistant, channel, chat local date) that has chats and
-- none other, and its sums are that day's (kpis.md "The modules": the report's counts of a period
-- are sums over its days). Recounted from the sessions (int_sessions_aggregated), not from
-- dim_chats or the per-chat marts the model sums: a chat is a session holding a user_message or a
-- click (kpis.md's rule, not the is_chat flag dim_chats filters on), its local date is its start
-- in the assistant's zone, its duration its last event's instant minus its first's. The counts
-- the sessions cannot give (outcomes, feedback classes, the CSAT distribution) must each cover the
-- day's chats (votes) once. Returns the rows missing from or extra in the mart
-- (macros/rows_missing_or_extra.sql). Scope: every row, in every run (the mart is rebuilt whole on
-- every run; the check reads the sessions' key and count columns once).

with

sessions as (

    select * from {{ ref('int_sessions_aggregated') }}

),

daily as (

    select * from {{ ref('fct_chats_daily') }}

),

chat_sessions as (

    select
        assistant_id,
        channel,
        cast({{ local_timestamp('started_at', 'timezone') }} as date) as started_local_date,
        {{ epoch_microseconds('ended_at') }} - {{ epoch_microseconds('started_at') }} as duration_microseconds,
        user_messages,
        bot_messages,
        handover_requests,
        fallbacks,
        csat_events
    from sessions
    where user_messages > 0 or clicks > 0

),

-- the columns compared, each as the recount gives it; a cover check is the day's chats (votes)
expected as (

    select
        assistant_id,
        channel,
        started_local_date,
        count(*) as chats,
        count(duration_microseconds) as chats_with_duration,
        sum(duration_microseconds) as duration_microseconds,
        sum(user_messages) as user_messages,
        sum(handover_requests) as handover_requests,
        count(case when handover_requests > 0 then 1 end) as chats_with_handover_requests,
        sum(bot_messages) as answers,
        sum(fallbacks) as fallbacks,
        count(case when fallbacks > 0 then 1 end) as chats_with_fallback,
        count(case when csat_events > 0 then 1 end) as csat_votes,
        count(*) as chats_with_outcome,
        count(*) as chats_by_outcome,
        count(*) as chats_with_or_without_requests,
        count(*) as chats_by_feedback_class,
        count(case when csat_events > 0 then 1 end) as csat_votes_by_score,
        0 as csat_score_sum_off_distribution
    from chat_sessions
    group by assistant_id, channel, started_local_date

),

actual as (

    select
        assistant_id,
        channel,
        chat_local_date,
        chats,
        chats_with_duration,
        duration_microseconds,
        user_messages,
        handover_requests,
        chats_with_handover_requests,
        answers,
        fallbacks,
        chats_with_fallback,
        csat_votes,
        chats_with_outcome,
        resolved_chats + abandoned_chats + escalated_chats as chats_by_outcome,
        chats_with_handover_requests + chats_without_handover_requests as chats_with_or_without_requests,
        only_positive_chats + more_positive_chats + balanced_chats
        + more_negative_chats + only_negative_chats + no_feedback_chats as chats_by_feedback_class,
        csat_score_1 + csat_score_2 + csat_score_3 + csat_score_4 + csat_score_5 as csat_votes_by_score,
        csat_score_sum
        - (csat_score_1 + 2 * csat_score_2 + 3 * csat_score_3 + 4 * csat_score_4 + 5 * csat_score_5)
            as csat_score_sum_off_distribution
    from daily

)

{{ rows_missing_or_extra('expected', 'actual') }}
