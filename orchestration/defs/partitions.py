"""One partition per export day (`dt=YYYY-MM-DD`, the UTC date of the platform's export run)."""

from dagster import DailyPartitionsDefinition

from ..settings import first_export_day

# Dagster needs the first day when it loads the definitions: a bad ANALYTICS_FIRST_EXPORT_DAY fails
# the load (and the CLI) with the settings' one-line message.
export_day_partitions = DailyPartitionsDefinition(
    start_date=first_export_day().isoformat(),
    timezone="UTC",
    # to tomorrow, UTC, as the loader takes them (load/exports.py `last_partition_day`): offset 1 is
    # the day in progress (today), 2 the one after it
    end_offset=2,
)
