"""One partition per export day (`dt=YYYY-MM-DD`, the UTC date of the platform's export run)."""

import datetime as dt
from collections.abc import Mapping

from dagster import DailyPartitionsDefinition
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

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


def run_day_range(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The first and last export day of a run, from its tags (a range's, or one partition's); None
    for a run without partitions (checks executed alone from the UI)."""
    first = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    if first is None:
        return None
    last = tags.get(ASSET_PARTITION_RANGE_END_TAG) or first
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)
