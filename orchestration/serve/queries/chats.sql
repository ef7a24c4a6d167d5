-- Chats (kpis.md "Chats": total, avg_duration_seconds) and the daily series' chats.
-- Reads marts.fct_chats_daily, fct_chats summed per channel and local start date: the average
-- duration (report.sql) is the period's summed durations (whole microseconds) over its chats that
-- have one.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(chats) as chats,
    sum(duration_microseconds) as duration_microseconds,
    sum(chats_with_duration) as chats_with_duration
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
