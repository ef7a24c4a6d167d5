-- Outcomes (kpis.md "Beyond the platform", Outcomes: resolved, abandoned, escalated) and the daily
-- series' escalated_chats. Reads marts.fct_chats_daily, fct_outcomes (one outcome per chat) summed
-- per channel and local start date.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(chats_with_outcome) as chats,
    sum(resolved_chats) as resolved,
    sum(abandoned_chats) as abandoned,
    sum(escalated_chats) as escalated
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
