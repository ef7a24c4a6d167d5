"""Notices new and re-delivered export days: a day whose files differ from what was loaded."""


import time

from dagster import RunRequest, SensorEvaluationContext, SkipReason, sensor

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
            requests.append(RunRequest(run_key=f"{day.isoformat()}:{fp[:16]}", partition_key=day.isoformat(),
                                       tags={"trigger": "new_or_redelivered"}))
    if not requests:
        return SkipReason("every export day is loaded as delivered")
    return requests[:max_runs]
