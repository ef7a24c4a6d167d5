"""Every night, refresh the previous export day (UTC date of the platform's export run)."""


import datetime as dt
import os

from dagster import RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from .jobs import refresh_job
from .loader import day_folder
from .resources import WarehouseResource


@schedule(
    job=refresh_job,
    cron_schedule=os.environ.get("ANALYTICS_NIGHTLY_CRON", "30 2 * * *"),
    execution_timezone=os.environ.get("ANALYTICS_SCHEDULE_TIMEZONE", "UTC"),
    description="Refreshes the previous export day every night.",
)
def nightly_refresh(context: ScheduleEvaluationContext, warehouse: WarehouseResource):
    scheduled = context.scheduled_execution_time.astimezone(dt.timezone.utc)
    day = scheduled.date() - dt.timedelta(days=1)
    if not day_folder(warehouse.exports, day).is_dir():
        return SkipReason(f"export day {day} has not arrived in {warehouse.exports}")
    return RunRequest(run_key=f"nightly-{day.isoformat()}", partition_key=day.isoformat(),
                      tags={"trigger": "nightly"})
