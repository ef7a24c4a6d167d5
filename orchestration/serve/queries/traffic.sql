-- Traffic (kpis.md "Traffic": cells): messages by their own local weekday and hour, all 168 cells
-- of each period, zeros included. Reads marts.fct_traffic (by the message's own local date).
with periods as (
    select * from (values (true), (false)) as p (is_current)
),

cells as (
    select is_current, weekday, hour
    from periods, range(1, 8) as w (weekday), range(0, 24) as h (hour)
),

counted as (
    select local_date >= $date_from as is_current, local_weekday, local_hour, sum(messages) as messages
    from marts.fct_traffic
    where assistant_id = $assistant
        and local_date between $prev_from and $date_to
        and ($channel is null or channel = $channel)
    group by all
)

select cells.is_current, cells.weekday, cells.hour, coalesce(counted.messages, 0) as messages
from cells
left join counted
    on cells.is_current = counted.is_current
        and cells.weekday = counted.local_weekday and cells.hour = counted.local_hour
