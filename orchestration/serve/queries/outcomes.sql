-- Outcomes (kpis.md "Beyond the platform", Outcomes: resolved, abandoned, escalated) and the daily
-- series' escalated_chats. Reads marts.fct_outcomes, one row per chat with its one outcome.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    count(*) as chats,
    count(*) filter (where outcome = 'resolved') as resolved,
    count(*) filter (where outcome = 'abandoned') as abandoned,
    count(*) filter (where outcome = 'escalated') as escalated
from marts.fct_outcomes
where assistant_id = $assistant
  and chat_local_date between $prev_from and $date_to
  and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
