{{ config(meta={'dagster': {'ref': {'name': 'fct_chats_daily'}}}) }}
-- fct_chats_daily holds one row for every (assistant, channel, chat local date) of dim_chats and
-- none other, and its sums are the chats' of that day (kpis.md "The modules": the report's chat
-- counts, durations, messages, handover requests and fallbacks of a period are sums over its days),
-- recounted from dim_chats, not from the per-chat marts it sums: the chats, those with a duration
-- and their durations, user messages, handover requests, fallbacks. Its per-chat class counts must
-- each cover every chat of the day once (one outcome per chat; with or without requests; one
-- feedback class per chat) and its CSAT distribution its votes (scores 1 to 5, summed score). Returns
-- the days whose row is missing, extra or differs. Scope: every row, in every run (the mart is
-- rebuilt whole on every run; the check reads dim_chats' key and count columns once).

with

chats as (

    select * from {{ ref('dim_chats') }}

),

daily as (

    select * from {{ ref('fct_chats_daily') }}

),

recounted as (

    select
        assistant_id,
        channel,
        chat_local_date,
        count(*) as chats,
        count(duration_seconds) as chats_with_duration,
        sum(
            case
                when duration_seconds is not null
                    then {{ epoch_microseconds('ended_at') }} - {{ epoch_microseconds('started_at') }}
            end
        ) as duration_microseconds,
        sum(user_messages) as user_messages,
        sum(handover_requests) as handover_requests,
        sum(fallbacks) as fallbacks

    from chats
    group by assistant_id, channel, chat_local_date

),

compared as (

    select
        coalesce(daily.assistant_id, recounted.assistant_id) as assistant_id,
        coalesce(daily.channel, recounted.channel) as channel,
        coalesce(daily.chat_local_date, recounted.chat_local_date) as chat_local_date,
        case
            when daily.assistant_id is null then 'day missing from fct_chats_daily'
            when recounted.assistant_id is null then 'day without chats in dim_chats'
            when daily.chats != recounted.chats then 'chats'
            when daily.chats_with_duration != recounted.chats_with_duration then 'chats_with_duration'
            when daily.duration_microseconds != coalesce(recounted.duration_microseconds, 0)
                then 'duration_microseconds'
            when daily.user_messages != recounted.user_messages then 'user_messages'
            when daily.handover_requests != recounted.handover_requests then 'handover_requests'
            when daily.fallbacks != recounted.fallbacks then 'fallbacks'
            when daily.chats_with_outcome != daily.chats
                or daily.resolved_chats + daily.abandoned_chats + daily.escalated_chats != daily.chats
                then 'outcomes do not cover every chat once'
            when daily.chats_with_handover_requests + daily.chats_without_handover_requests != daily.chats
                then 'chats with and without handover requests'
            when daily.only_positive_chats + daily.more_positive_chats + daily.balanced_chats
                + daily.more_negative_chats + daily.only_negative_chats + daily.no_feedback_chats
                != daily.chats
                then 'feedback classes do not cover every chat once'
            when daily.csat_score_1 + daily.csat_score_2 + daily.csat_score_3 + daily.csat_score_4
                + daily.csat_score_5 != daily.csat_votes
                or daily.csat_score_1 + 2 * daily.csat_score_2 + 3 * daily.csat_score_3
                + 4 * daily.csat_score_4 + 5 * daily.csat_score_5 != daily.csat_score_sum
                then 'csat distribution'
        end as problem

    from daily
    full outer join recounted
        on daily.assistant_id = recounted.assistant_id
            and daily.channel = recounted.channel
            and daily.chat_local_date = recounted.chat_local_date

)

select * from compared
where problem is not null
