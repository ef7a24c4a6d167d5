-- CSAT (kpis.md "CSAT": votes, score, distribution) and the daily series' csat_votes and
-- csat_score. Reads marts.fct_chats_daily, fct_csat (one vote per chat, its latest) summed per
-- channel and local start date: the score (report.sql) is the summed scores over the votes.
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    sum(csat_votes) as votes,
    sum(csat_score_sum) as score_sum,
    sum(csat_score_1) as s1,
    sum(csat_score_2) as s2,
    sum(csat_score_3) as s3,
    sum(csat_score_4) as s4,
    sum(csat_score_5) as s5
from marts.fct_chats_daily
where assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
