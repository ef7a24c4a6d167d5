-- kpis.md "Traffic": cells are (local ISO weekday 1 = Monday .. 7, local hour 0..23), 168 in all.
-- Every fct_traffic row must fall in that grid, its weekday must be the ISO weekday of its own
-- local_date, and messages must be the sum of its three message types (each >= 0, total >= 1).
-- Returns the rows that break this. Scope: per row, so an incremental refresh checks the affected
-- users' rows (docs/incremental.md).

select *
from {{ recomputed_rows(ref('fct_traffic')) }} as t
where (
    local_weekday not between 1 and 7
    or local_hour not between 0 and 23
    or local_weekday <> {{ iso_weekday('local_date') }}
    or messages <> user_messages + bot_messages + operator_messages
    or least(user_messages, bot_messages, operator_messages) < 0
    or messages < 1
)
