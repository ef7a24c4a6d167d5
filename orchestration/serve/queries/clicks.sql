-- Clicks (kpis.md "Clicks": rows): clicks in the period's chats per (click_type, title,
-- destination_type, destination). Reads marts.fct_clicks.
select
    chat_local_date >= $date_from as is_current,
    click_type, title, destination_type, destination,
    sum(clicks) as clicks
from marts.fct_clicks
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by all
