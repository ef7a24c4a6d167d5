-- Retention of the period's new users (kpis.md "Beyond the platform", Retention: cohort,
-- returned_7d, returned_30d). Reads marts.fct_retention, one row per user and channel.
-- The cohort: without a channel filter, each user's row of the channel of their first chat (one
-- per user); with one, that channel's rows, by the first chat in it (a user's first chat in a
-- channel is never before their first chat overall, hence the first filter on the overall date).
with cohort as (
    select
        case when $channel is null then first_chat_local_date
            else first_chat_local_date_in_channel
        end as cohort_date,
        case when $channel is null then returned_within_7d
            else returned_within_7d_in_channel
        end as returned_7d,
        case when $channel is null then returned_within_30d
            else returned_within_30d_in_channel
        end as returned_30d
    from marts.fct_retention
    where assistant_id = $assistant
        and first_chat_local_date <= $date_to
        and (($channel is null and is_first_chat_channel) or channel = $channel)
)

select
    cohort_date >= $date_from as is_current,
    count(*) as cohort,
    count(*) filter (where returned_7d) as returned_7d,
    count(*) filter (where returned_30d) as returned_30d
from cohort
where cohort_date between $prev_from and $date_to
group by is_current
