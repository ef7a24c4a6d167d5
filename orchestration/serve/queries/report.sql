-- The report of interfaces.md: one row per period (is_current true: $date_from .. $date_to; false:
-- the previous period, $prev_from .. the day before $date_from), every module's values, the
-- cross-module ratios, and (current row) the daily series. Each name it reads (users, chats, ...)
-- is the query of the file of that name in this folder, put in front of this one as a CTE
-- (`with users as (<users.sql>), ...`): every mart is read once for both periods and all days.
-- Rows of those queries with a null chat_local_date are a period's; the others a local date's.
-- Ratios are rounded to 6 decimals and null when their denominator is 0 (kpis.md rule 6): ratio_6
-- (ratio.sql), on the whole numbers.
select
    periods.is_current,
    coalesce(users.users, 0) as users_total,
    coalesce(users.new_users, 0) as users_new,
    coalesce(users.returning_users, 0) as users_returning,
    coalesce(users.by_device, []) as by_device,
    coalesce(messages.user_messages, 0) as user_messages,
    ratio_6(messages.user_messages, users.users) as messages_per_user,
    ratio_6(messages.user_messages, chats.chats) as messages_per_chat,
    coalesce(chats.chats, 0) as chats_total,
    ratio_6(chats.duration_microseconds, chats.chats_with_duration * 1000000) as chats_avg_duration_seconds,
    ratio_6(chats.chats, users.users) as chats_per_user,
    coalesce(handover.requests, 0) as handover_requests,
    ratio_6(users.users_with_handover_requests, users.users) as handover_rate,
    coalesce(handover.chats_with_requests, 0) as chats_with_requests,
    coalesce(handover.chats_without_requests, 0) as chats_without_requests,
    coalesce(handover.direct, 0) as direct,
    coalesce(handover.after_fallback, 0) as after_fallback,
    coalesce(handover.operator_button, 0) as operator_button,
    coalesce(handover.human_takeover, 0) as human_takeover,
    coalesce(handover.ticket, 0) as ticket,
    ratio_6(users.returning_users, users.users) as returning_rate,
    coalesce(feedback.reviewable, 0) as reviewable,
    coalesce(feedback.positive, 0) as positive,
    coalesce(feedback.negative, 0) as negative,
    coalesce(feedback.no_feedback, 0) as no_feedback,
    coalesce(feedback.only_positive, 0) as only_positive,
    coalesce(feedback.more_positive, 0) as more_positive,
    coalesce(feedback.balanced, 0) as balanced,
    coalesce(feedback.more_negative, 0) as more_negative,
    coalesce(feedback.only_negative, 0) as only_negative,
    coalesce(feedback.no_feedback_chats, 0) as no_feedback_chats,
    coalesce(csat.votes, 0) as csat_votes,
    ratio_6(csat.score_sum, csat.votes) as csat_score,
    coalesce(csat.s1, 0) as s1, coalesce(csat.s2, 0) as s2, coalesce(csat.s3, 0) as s3,
    coalesce(csat.s4, 0) as s4, coalesce(csat.s5, 0) as s5,
    coalesce(outcomes.resolved, 0) as resolved,
    coalesce(outcomes.abandoned, 0) as abandoned,
    coalesce(outcomes.escalated, 0) as escalated,
    ratio_6(outcomes.resolved + outcomes.abandoned, outcomes.chats) as containment_rate,
    ratio_6(outcomes.resolved, outcomes.chats) as resolution_rate,
    ratio_6(outcomes.abandoned, outcomes.chats) as abandonment_rate,
    ratio_6(outcomes.escalated, outcomes.chats) as escalation_rate,
    coalesce(answers.answers, 0) as answers,
    coalesce(answers.fallbacks, 0) as fallbacks,
    ratio_6(answers.fallbacks, answers.answers) as fallback_rate,
    coalesce(answers.chats_with_fallback, 0) as chats_with_fallback,
    coalesce(retention.cohort, 0) as retention_cohort,
    coalesce(retention.returned_7d, 0) as returned_7d,
    coalesce(retention.returned_30d, 0) as returned_30d,
    ratio_6(retention.returned_7d, retention.cohort) as rate_7d,
    ratio_6(retention.returned_30d, retention.cohort) as rate_30d,
    -- interfaces.md orders: traffic by weekday, hour; clicks by clicks descending, then the four
    -- key fields; agents by views descending, then agent_id
    (
        select list(struct_pack(weekday, hour, messages) order by weekday, hour)
        from traffic
        where traffic.is_current = periods.is_current
    ) as traffic_cells,
    (
        select
            coalesce(list(
                struct_pack(click_type, title, destination_type, destination, clicks)
                order by clicks desc, click_type asc, title asc, destination_type asc, destination asc
            ), [])
        from clicks
        where clicks.is_current = periods.is_current
    ) as click_rows,
    (
        select
            coalesce(list(
                struct_pack(agent_id, name, kind, views, positive, negative)
                order by views desc, agent_id asc
            ), [])
        from agents
        where agents.is_current = periods.is_current
    ) as agent_rows,
    -- kpis.md "Daily series": every local date of the period, zeros included, by chat start date
    case when periods.is_current then (
            select
                list(struct_pack(
                    date := strftime(days.local_date, '%Y-%m-%d'),
                    users := coalesce(day_users.users, 0),
                    new_users := coalesce(day_users.new_users, 0),
                    chats := coalesce(day_chats.chats, 0),
                    user_messages := coalesce(day_messages.user_messages, 0),
                    handover_requests := coalesce(day_handover.requests, 0),
                    escalated_chats := coalesce(day_outcomes.escalated, 0),
                    fallbacks := coalesce(day_answers.fallbacks, 0),
                    csat_votes := coalesce(day_csat.votes, 0),
                    csat_score := ratio_6(day_csat.score_sum, day_csat.votes)
                ) order by days.local_date)
            from (
                select cast(d as date) as local_date
                from range(
                        cast($date_from as timestamp), cast($date_to as timestamp) + interval 1 day,
                        interval 1 day
                    ) as t (d)
            ) as days
            left join users as day_users on day_users.chat_local_date = days.local_date
            left join chats as day_chats on day_chats.chat_local_date = days.local_date
            left join messages as day_messages on day_messages.chat_local_date = days.local_date
            left join handover as day_handover on day_handover.chat_local_date = days.local_date
            left join outcomes as day_outcomes on day_outcomes.chat_local_date = days.local_date
            left join answers as day_answers on day_answers.chat_local_date = days.local_date
            left join csat as day_csat on day_csat.chat_local_date = days.local_date
        )
    end as daily
from (values (true), (false)) as periods (is_current)
left join users on users.is_current = periods.is_current and users.chat_local_date is null
left join chats on chats.is_current = periods.is_current and chats.chat_local_date is null
left join messages on messages.is_current = periods.is_current and messages.chat_local_date is null
left join handover on handover.is_current = periods.is_current and handover.chat_local_date is null
left join feedback on feedback.is_current = periods.is_current
left join csat on csat.is_current = periods.is_current and csat.chat_local_date is null
left join outcomes on outcomes.is_current = periods.is_current and outcomes.chat_local_date is null
left join answers on answers.is_current = periods.is_current and answers.chat_local_date is null
left join retention on retention.is_current = periods.is_current
order by periods.is_current desc
