-- Answers (kpis.md "Beyond the platform", Answers: answers, fallbacks, chats_with_fallback) and
-- the daily series' fallbacks. Reads marts.fct_chats_daily, fct_answers summed per channel and
-- local start date.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(answers) as answers,
    sum(fallbacks) as fallbacks,
    sum(chats_with_fallback) as chats_with_fallback
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
