"""One partition per export day (`dt=YYYY-MM-DD`, the UTC date of the platform's export run)."""

import os

from dagster import DailyPartitionsDefinition

export_day_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("ANALYTICS_FIRST_EXPORT_DAY", "2024-01-01"),
    timezone="UTC",
    end_offset=1,  # today's export may already be there
)
