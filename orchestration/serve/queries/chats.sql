-- Chats (kpis.md "Chats": total, avg_duration_seconds) and the daily series' chats.
-- Reads marts.fct_chats, one row per chat, in the period of its local start date.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    count(*) as chats,
    avg(duration_seconds) as avg_duration_seconds
from marts.fct_chats
where assistant_id = $assistant
  and chat_local_date between $prev_from and $date_to
  and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
