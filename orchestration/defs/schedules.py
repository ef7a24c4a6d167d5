"""Every night, refresh the previous export day (UTC date of the platform's export run)."""


import datetime as dt

from dagster import RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from ..errors import LoadError
from ..load.exports import is_export_day, missing_day_message
from ..settings import nightly_cron, schedule_timezone
from .jobs import TRIGGER_TAG, refresh_job
from .resources import WarehouseResource


# Dagster needs the cron and time zone when it loads the definitions (validated there).
@schedule(
    job=refresh_job,
    cron_schedule=nightly_cron(),
    execution_timezone=schedule_timezone(),
    description="Refreshes the previous export day every night.",
)
def nightly_refresh(context: ScheduleEvaluationContext, warehouse: WarehouseResource):
    scheduled = context.scheduled_execution_time.astimezone(dt.UTC)
    day = scheduled.date() - dt.timedelta(days=1)
    # the loader's test of an export day: a run the loader would refuse is not requested
    try:
        arrived = is_export_day(warehouse.exports, day)
    except LoadError as exc:  # the exports folder or the day's folder cannot be read
        return SkipReason(str(exc))
    if not arrived:  # in the loader's words: no folder yet, or a link or a file in its place
        return SkipReason(missing_day_message(warehouse.exports, day))
    return RunRequest(run_key=f"nightly-{day.isoformat()}", partition_key=day.isoformat(),
                      tags={TRIGGER_TAG: "nightly"})
