-- Messages (kpis.md "Messages": user_messages) and the daily series' user_messages.
-- Reads marts.fct_chats_daily, fct_messages summed per channel and local start date.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(user_messages) as user_messages
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
