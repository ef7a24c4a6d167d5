-- Handover (kpis.md "Handover": requests, chats with and without, by_trigger, by_mode) and the
-- daily series' handover_requests. Reads marts.fct_chats_daily, fct_handover summed per channel
-- and local start date. (The rate's users come from users.sql.)
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(handover_requests) as requests,
    sum(chats_with_handover_requests) as chats_with_requests,
    sum(chats_without_handover_requests) as chats_without_requests,
    sum(direct_requests) as direct,
    sum(after_fallback_requests) as after_fallback,
    sum(operator_button_requests) as operator_button,
    sum(human_takeover_requests) as human_takeover,
    sum(ticket_requests) as ticket
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
