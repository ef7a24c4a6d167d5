"""Every night, refresh the previous export day (UTC date of the platform's export run)."""


import datetime as dt

from dagster import RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from ..load.exports import day_folder
from ..settings import nightly_cron, schedule_timezone
from .jobs import refresh_job
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
    if not day_folder(warehouse.exports, day).is_dir():
        return SkipReason(f"export day {day} has not arrived in {warehouse.exports}")
    return RunRequest(run_key=f"nightly-{day.isoformat()}", partition_key=day.isoformat(),
                      tags={"trigger": "nightly"})
