-- kpis.md "Chats": a channel's inactivity timeout is a positive number of minutes, or empty for no
-- timeout (voice: a call is one session). Returns the channels seed rows with a zero or negative
-- timeout (which would make every event start a new session). Not scoped to the affected users
-- (docs/incremental.md): it reads the seed, a few rows.

select *
from {{ ref('channels') }}
where inactivity_timeout_minutes <= 0
