-- kpis.md "Beyond the platform": resolved + abandoned + escalated = chats, and every rate lies in
-- [0, 1]. Per assistant, channel and local day, as an analyst would count them from the marts:
-- the outcome counts add up to dim_chats' chats, the answers mart has a row per chat, and
-- containment, resolution, abandonment, escalation, fallback rates (and the retention rates of
-- the users whose first chat in the channel is that day) are defined where their denominator is
-- not 0 and within [0, 1]. Returns the days that break any of this. Scope: every figure is counted
-- from the recomputed users' rows in an incremental refresh (docs/incremental.md).

with

chats as (

    select assistant_id, channel, chat_local_date, count(*) as chats
    from {{ recomputed_rows(ref('dim_chats')) }} as c
    group by all

),

outcomes as (

    select
        assistant_id, channel, chat_local_date,
        count(*) filter (where outcome = 'resolved') as resolved,
        count(*) filter (where outcome = 'abandoned') as abandoned,
        count(*) filter (where outcome = 'escalated') as escalated,
        count(*) filter (where is_contained) as contained

    from {{ recomputed_rows(ref('fct_outcomes')) }} as o
    group by all

),

answers as (

    select
        assistant_id, channel, chat_local_date,
        count(*) as chats,
        sum(answers) as answers,
        sum(fallbacks) as fallbacks,
        count(*) filter (where has_fallback) as chats_with_fallback

    from {{ recomputed_rows(ref('fct_answers')) }} as a
    group by all

),

retention as (

    select
        assistant_id, channel, first_chat_local_date_in_channel as chat_local_date,
        count(*) as cohort,
        count(*) filter (where returned_within_7d_in_channel) as returned_7d,
        count(*) filter (where returned_within_30d_in_channel) as returned_30d

    from {{ recomputed_rows(ref('fct_retention')) }} as r
    group by all

),

days as (

    select
        chats.*,
        coalesce(outcomes.resolved, 0) as resolved,
        coalesce(outcomes.abandoned, 0) as abandoned,
        coalesce(outcomes.escalated, 0) as escalated,
        coalesce(outcomes.contained, 0) as contained,
        coalesce(answers.chats, 0) as answer_rows,
        answers.fallbacks / nullif(answers.answers, 0) as fallback_rate,
        coalesce(answers.chats_with_fallback, 0) as chats_with_fallback,
        retention.returned_7d / nullif(retention.cohort, 0) as rate_7d,
        retention.returned_30d / nullif(retention.cohort, 0) as rate_30d

    from chats
    left join outcomes using (assistant_id, channel, chat_local_date)
    left join answers using (assistant_id, channel, chat_local_date)
    left join retention using (assistant_id, channel, chat_local_date)

),

rates as (

    select
        *,
        (resolved + abandoned) / chats as containment_rate,
        resolved / chats as resolution_rate,
        abandoned / chats as abandonment_rate,
        escalated / chats as escalation_rate

    from days

)

select * from rates
where resolved + abandoned + escalated <> chats
    or contained <> resolved + abandoned
    or answer_rows <> chats
    or chats_with_fallback > chats
    or not (containment_rate between 0 and 1)
    or not (resolution_rate between 0 and 1)
    or not (abandonment_rate between 0 and 1)
    or not (escalation_rate between 0 and 1)
    or fallback_rate < 0 or fallback_rate > 1
    or rate_7d < 0 or rate_7d > rate_30d or rate_30d > 1
-- outcome rows of days without chats: a chat-grain mart must not hold them
union all
select
    outcomes.assistant_id, outcomes.channel, outcomes.chat_local_date, 0, 0, 0, 0, 0, 0, null, 0,
    null, null, null, null, null, null
from outcomes
anti join chats using (assistant_id, channel, chat_local_date)
