"""Notices new and re-delivered export days: a day whose files differ from what was loaded."""


import time

from dagster import DagsterRunStatus, RunRequest, RunsFilter, SensorEvaluationContext, SkipReason, sensor
from dagster._core.storage.tags import PARTITION_NAME_TAG, RUN_KEY_TAG

from ..load.exports import day_folder, export_files, fingerprint, is_partition_day, list_export_days
from ..load.raw import loaded_export_days
from ..publish.publish import connect_published
from ..settings import sensor_interval_seconds, sensor_max_runs, sensor_settle_seconds
from .jobs import refresh_job
from .resources import WarehouseResource


def loaded_fingerprints(warehouse: WarehouseResource) -> dict[str, str]:
    """Fingerprints of the days in the published warehouse (read-only; never blocks a refresh)."""
    if not warehouse.warehouse.exists():
        return {}
    conn = connect_published(warehouse.warehouse)
    try:
        return {str(day): fp for day, fp in loaded_export_days(conn).items()}
    finally:
        conn.close()


# Dagster needs the interval when it loads the definitions (validated there).
@sensor(job=refresh_job, minimum_interval_seconds=sensor_interval_seconds(),
        description="Refreshes an export day that is new, or re-delivered (its files changed since it was loaded).")
def new_or_redelivered_export_days(context: SensorEvaluationContext, warehouse: WarehouseResource):
    settle = sensor_settle_seconds()
    max_runs = sensor_max_runs()
    loaded = loaded_fingerprints(warehouse)
    now = time.time()
    requests = []
    for day in list_export_days(warehouse.exports):
        if not is_partition_day(day):
            # a run of it could not start (no such partition), and would fail the whole tick
            context.log.warning(f"export day folder dt={day} is outside the export days: passed by")
            continue
        folder = day_folder(warehouse.exports, day)
        files = export_files(folder)
        newest = max([folder.stat().st_mtime] + [p.stat().st_mtime for p in files])
        if now - newest < settle:
            continue  # still being written
        fp = fingerprint(folder)
        if loaded.get(day.isoformat()) != fp:
            run_key = _run_key(context, day.isoformat(), fp, now)
            if run_key is not None:
                requests.append(RunRequest(run_key=run_key, partition_key=day.isoformat(),
                                           tags={"trigger": "new_or_redelivered"}))
    if not requests:
        return SkipReason("every export day is loaded as delivered, or its run is going or waits to retry")
    return requests[:max_runs]


# A run of a day that failed is asked for again this long after it ended (same files): a fault
# that passes (a lock held too long, memory) heals without anyone, one that stays (a setting, a
# damaged day) does not start a run every tick. A run from the UI or `refresh --day` needs no wait.
RETRY_FAILED_AFTER_SECONDS = 3600
_FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def _run_key(context: SensorEvaluationContext, day: str, fp: str, now: float) -> str | None:
    """The run key to ask for `day` with these files, or None while a run of them is going or its
    failure is recent. Dagster runs a key once, failed or not: a day whose run failed was never
    asked for again while its files stayed the same, so each attempt after a failure has a key
    of its own (`<day>:<files>:<n>`)."""
    key = f"{day}:{fp[:16]}"
    attempts = [r for r in context.instance.get_run_records(RunsFilter(tags={PARTITION_NAME_TAG: day}), limit=100)
                if r.dagster_run.tags.get(RUN_KEY_TAG, "").split(":")[:2] == key.split(":")]
    if not attempts:
        return key
    if any(r.dagster_run.status not in _FINISHED for r in attempts):
        return None  # going, or queued
    latest = max(attempts, key=lambda r: r.create_timestamp)
    if latest.dagster_run.status == DagsterRunStatus.SUCCESS:
        return None  # it loaded these files (Dagster would pass its key by, as before)
    ended = latest.end_time or latest.update_timestamp.timestamp()
    if now - ended < RETRY_FAILED_AFTER_SECONDS:
        return None
    return f"{key}:{len(attempts)}"
