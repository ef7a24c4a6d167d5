-- kpis.md "Time": each assistant has an IANA time zone in the assistants seed, and every local
-- date is computed in it. Returns the seed rows whose timezone is not a zone the engine knows (a typo
-- would otherwise fail the build or shift every local date). Not scoped to the affected users
-- (docs/incremental.md): it reads the seed, a few rows.

select assistants.*
from {{ ref('assistants') }} as assistants
where not ({{ is_known_time_zone('assistants.timezone') }})
