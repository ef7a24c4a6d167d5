"""One partition per export day (`dt=YYYY-MM-DD`, the UTC date of the platform's export run)."""

from dagster import DailyPartitionsDefinition

from ..settings import first_export_day

# Dagster needs the first day when it loads the definitions: a bad ANALYTICS_FIRST_EXPORT_DAY fails
# the load (and the CLI) with the settings' one-line message.
export_day_partitions = DailyPartitionsDefinition(
    start_date=first_export_day().isoformat(),
    timezone="UTC",
    end_offset=1,  # today's export may already be there
)
