-- CSAT (kpis.md "CSAT": votes, score, distribution) and the daily series' csat_votes and
-- csat_score. Reads marts.fct_csat, one row per chat with a vote (its latest).
select
    chat_local_date >= $date_from as is_current,
    chat_local_date,
    count(*) as votes,
    avg(score) as score,
    count(*) filter (where score = 1) as s1,
    count(*) filter (where score = 2) as s2,
    count(*) filter (where score = 3) as s3,
    count(*) filter (where score = 4) as s4,
    count(*) filter (where score = 5) as s5
from marts.fct_csat
where assistant_id = $assistant
  and chat_local_date between $prev_from and $date_to
  and ($channel is null or channel = $channel)
group by grouping sets ((is_current), (is_current, chat_local_date))
