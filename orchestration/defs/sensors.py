"""Notices new and re-delivered export days (a day whose files differ from what was loaded), and
records the runs from Dagster for `assistant-analytics status` (run status sensors)."""


import datetime as dt
import json
import socket
import time
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from dagster._core.storage.tags import (
    GRPC_INFO_TAG,
    PARTITION_NAME_TAG,
    RUN_KEY_TAG,
)

from ..build.dbt_results import step_failure_summary
from ..errors import LoadError, spaces_shown
from ..load.exports import (
    MISNAMED_DAY_FOLDERS,
    change_times,
    day_folder,
    days_from_to,
    export_files,
    files_fingerprint,
    is_partition_day,
    no_exports_folder,
    scan_day_folders,
)
from ..load.raw import loaded_export_days
from ..processes import process_gone
from ..publish.publish import connect_published, refresh_running
from ..serve.status import record_run
from ..settings import sensor_interval_seconds, sensor_max_runs, sensor_settle_seconds
from .jobs import CLI_TRIGGER, TRIGGER_TAG, refresh_job
from .partitions import run_day_range
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


# Why a day whose files differ from its load is not asked for at this tick (the tick's skip reason)
_SETTLING = "still being written"
_BEING_RUN = "a run of it going or queued"
_ASKED = "asked for already (asked for again an hour after that run ended, if its files are still not loaded)"
_UNREADABLE = "its folder or files cannot be read now (named in the tick's log)"
# Entries of the exports root that look like a day and are never read: named on every tick, as
# `status` and `refresh --all` name them, so that no day waits unseen
_MISNAMED = f"entries {MISNAMED_DAY_FOLDERS}"
_LINKED = "dt= entries that are symbolic links (copy the folder in)"


def _seen_since(cursor: str | None) -> dict[str, list]:
    """The sensor's cursor: for each day whose files carry a time ahead of the sensor's clock, its
    fingerprint and when the sensor first saw them so."""
    try:
        seen = json.loads(cursor or "{}")
    except ValueError:
        return {}
    return seen if isinstance(seen, dict) else {}


# Dagster needs the interval when it loads the definitions (validated there).
@sensor(job=refresh_job, minimum_interval_seconds=sensor_interval_seconds(),
        description="Refreshes an export day that is new, or re-delivered (its files changed since it was loaded).")
def new_or_redelivered_export_days(context: SensorEvaluationContext, warehouse: WarehouseResource):
    settle = sensor_settle_seconds()
    max_runs = sensor_max_runs()
    loaded = loaded_fingerprints(warehouse)
    now = time.time()
    _fail_runs_whose_process_is_gone(context)
    being_run = _days_being_run(context, warehouse)
    seen, ahead = _seen_since(context.cursor), {}
    requests = []
    missing = no_exports_folder(warehouse.exports)
    if missing:
        # an exports folder gone (a mount lost) or mistyped: no day can arrive, which "every export
        # day is loaded" would hide
        context.log.warning(missing)
        return SensorResult(skip_reason=SkipReason(f"no export day can be read: {missing}"), cursor=context.cursor)
    folders = scan_day_folders(warehouse.exports)
    waiting: dict[str, list[str]] = {_SETTLING: [], _BEING_RUN: [], _ASKED: [], _UNREADABLE: []}
    never_read = {_MISNAMED: folders.misnamed, _LINKED: folders.linked}
    unread = "; ".join(f"{reason}: {', '.join(map(spaces_shown, names))}" for reason, names in never_read.items()
                       if names)
    if unread:
        context.log.warning(f"never read: {unread}")
    for day in folders.days:
        if not is_partition_day(day):
            # a run of it could not start (no such partition), and would fail the whole tick
            context.log.warning(f"export day folder dt={day} is outside the export days: passed by")
            continue
        folder = day_folder(warehouse.exports, day)
        try:
            files = export_files(folder)
            newest = max(change_times(folder, files))
            fp = files_fingerprint(files)
        except (LoadError, OSError) as exc:
            # one day that cannot be read (its permissions, a file removed while listed) does not
            # hold back the others; its run would fail, so it is named, not asked for
            context.log.warning(f"export day {day}: {exc}")
            waiting[_UNREADABLE].append(day.isoformat())
            continue
        if loaded.get(day.isoformat()) == fp:
            continue
        if newest > now:
            # a time ahead of this clock (a writer's clock, a copy that kept a future time): the
            # files' times cannot tell when they last changed, so the sensor's own clock does,
            # from the tick it first saw these files
            first_fp, first_seen = (seen.get(day.isoformat()) or [None, None])[:2]
            newest = first_seen if first_fp == fp and isinstance(first_seen, (int, float)) else now
            ahead[day.isoformat()] = [fp, newest]
        if now - newest < settle:
            waiting[_SETTLING].append(day.isoformat())
        elif day.isoformat() in being_run:
            # whatever started it (this sensor with other files, the UI, a backfill, the schedule):
            # its load may read the files as they are now; if not, the next tick after it sees them
            waiting[_BEING_RUN].append(day.isoformat())
        elif (run_key := _run_key(context, day.isoformat(), fp, now)) is None:
            waiting[_ASKED].append(day.isoformat())
        else:
            requests.append(RunRequest(run_key=run_key, partition_key=day.isoformat(),
                                       tags={TRIGGER_TAG: "new_or_redelivered"}))
    cursor = json.dumps(ahead, sort_keys=True)
    if not requests:
        why = "; ".join(f"{reason}: {', '.join(days)}" for reason, days in waiting.items() if days)
        message = (f"new or re-delivered export days waiting: {why}" if why else
                   "every export day is loaded as delivered") + (f"; never read: {unread}" if unread else "")
        return SensorResult(skip_reason=SkipReason(message), cursor=cursor)
    return SensorResult(run_requests=requests[:max_runs], cursor=cursor)


# What a launched run's process has in its command line: the code server starts it with
# multiprocessing's spawn (`... spawn_main(...) --multiprocessing-fork`), older launches as
# `dagster api execute_run`. A pid held by anything else is the pid used again.
_RUN_PROCESS_MARKS = ("--multiprocessing-fork", "execute_run")
# How a run's code server is reached, in its launch's tag, when it is on this machine (and this
# machine's name, asked only then: no name look-up in every process that loads the definitions)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _fail_runs_whose_process_is_gone(context: SensorEvaluationContext) -> list[str]:
    """Marks failed each refresh run left "started" whose process is gone, and returns their ids.
    Nothing else marks such a run ended: it stayed "started" for good, its days were never asked
    for again, and with one run at a time (the README's dagster.yaml) it held the run queue.

    - A run launched from the code location (the schedule's, this sensor's, a backfill's, the UI's)
      runs in a child process of the code server, killed with it (`dagster dev` or the machine
      restarted during the run). Looked for only when that code server is on this machine (its
      launch's tag names localhost or a socket, as under `dagster dev`) and Dagster's default run
      launcher runs it (another launcher's runs are a container's, watched by that launcher).
    - A run of `assistant-analytics refresh` runs in that command's process, which holds the
      warehouse's lock from before its first run to after its last: such a run going while no
      process holds the lock was killed with the command."""
    from dagster._core.launcher import DefaultRunLauncher

    local_launcher = isinstance(context.instance.run_launcher, DefaultRunLauncher)
    failed: list[str] = []
    for record in context.instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run = record.dagster_run
        if run.job_name not in _RECORDED_JOBS:
            continue
        if run.tags.get(TRIGGER_TAG) == CLI_TRIGGER:
            named = _named_warehouse(run)
            if not named or not Path(named).is_absolute():
                continue  # no path, or one of the command's own folder: its lock cannot be found from here
            why = (None if refresh_running(Path(named)) else
                   "the `assistant-analytics refresh` that ran it is gone (it holds the warehouse's lock "
                   "while it runs)")
        elif run.remote_job_origin is None or not local_launcher or not _launched_on_this_machine(run):
            continue  # run in a process of its own (`dagster job execute`: it takes the lock step by
            # step, so the lock cannot tell), or somewhere this sensor cannot look
        else:
            pid = _run_process_id(context, run.run_id)
            why = (f"the run's process (pid {pid}) is gone: killed, or the machine or `dagster dev` restarted "
                   "during the run" if pid is not None and process_gone(pid, _RUN_PROCESS_MARKS) else None)
        # read again: a run that ended meanwhile (its process gone as it ended) keeps its outcome
        if why is None or context.instance.get_run_by_id(run.run_id).status != DagsterRunStatus.STARTED:
            continue
        context.log.warning(f"run {run.run_id}: {why}; marked failed")
        context.instance.report_run_failed(run, f"{why}; its days are asked for again unless the published "
                                                "warehouse holds them as delivered, and the next refresh finishes "
                                                "what it left (docs/nightly.md)")
        failed.append(run.run_id)
    return failed


def _launched_on_this_machine(run) -> bool:
    """Whether the code server that runs `run`'s process is on this machine, from its launch's tag."""
    try:
        where = json.loads(run.tags.get(GRPC_INFO_TAG, ""))
    except ValueError:
        return False
    if not isinstance(where, dict):
        return False
    return bool(where.get("socket")) or where.get("host") in _LOCAL_HOSTS or where.get("host") == socket.gethostname()


def _named_warehouse(run) -> str | None:
    """The warehouse path a run's config names, as given (a CLI refresh's names one, absolute)."""
    config = (run.run_config or {}).get("resources", {}).get("warehouse", {}).get("config") or {}
    return config.get("warehouse_path")


def _run_warehouse(run) -> Path:
    """The warehouse a run works on: its run config's when it names one, else the settings' (as
    the run took it)."""
    return WarehouseResource(warehouse_path=_named_warehouse(run) or "").warehouse


def _run_process_id(context: SensorEvaluationContext, run_id: str) -> int | None:
    """The pid of the process a launched run runs in, from the event its launch writes first."""
    for event in context.instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT,
                                                      limit=10).records:
        dagster_event = event.event_log_entry.dagster_event
        if dagster_event is None or not (dagster_event.message or "").startswith("Started process for run"):
            continue
        data = dagster_event.engine_event_data
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None:
            try:
                return int(pid.value)
            except (TypeError, ValueError):
                return None
    return None


def _days_being_run(context: SensorEvaluationContext, warehouse: WarehouseResource) -> set[str]:
    """The export days of every run not finished (queued, starting, going), from wherever it was
    started: a day's partition tag, or every day of a backfill's range. A run of `assistant-analytics
    refresh` runs in that command's process, which no daemon watches: killed, it stays "started"
    for good, so it counts only while a refresh holds the warehouse's lock (the command holds it
    from its first run to its last). Such a run is tagged as the CLI's; one of a version before the
    tag is known by its lack of a code location to launch it from (a run executed in its process)."""
    days: set[str] = set()
    cli_refresh_running = None
    for record in context.instance.get_run_records(RunsFilter(statuses=NOT_FINISHED_STATUSES)):
        tags = record.dagster_run.tags
        if tags.get(TRIGGER_TAG) == CLI_TRIGGER or record.dagster_run.remote_job_origin is None:
            if cli_refresh_running is None:
                cli_refresh_running = refresh_running(warehouse.warehouse)
            if not cli_refresh_running:
                continue
        try:
            day_range = run_day_range(tags)
        except ValueError:
            continue  # a run of another kind of partitions (another job): not an export day
        if day_range:
            days.update(day.isoformat() for day in days_from_to(*day_range))
    return days


# A run of a day that failed is asked for again this long after it ended (same files): a fault
# that passes (a lock held too long, memory) heals without anyone, one that stays (a setting, a
# damaged day) does not start a run every tick. A run from the UI or `refresh --day` needs no wait.
# So is a run that succeeded whose files the warehouse no longer holds as loaded (the day loaded
# again since, from other files, by a run this sensor cannot see: `refresh`'s), unless a later run
# of the day shows that at once (files put back as an earlier delivery had them).
RETRY_FAILED_AFTER_SECONDS = 3600
_FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def _run_key(context: SensorEvaluationContext, day: str, fp: str, now: float) -> str | None:
    """The run key to ask for `day` with these files (which the warehouse does not hold as loaded),
    or None while a run of them is going or its end is recent. Dagster runs a key once, failed or
    not: a day whose run failed was never asked for again while its files stayed the same, nor a day
    whose files went back to an earlier delivery's, so each attempt after the first has a key of
    its own (`<day>:<files>:<n>`)."""
    files = fp.replace(":", "-")  # `r<loader revision>-<digest>`: the key's parts are split at ':'
    key = f"{day}:{files[:20]}"
    runs_of_day = context.instance.get_run_records(RunsFilter(tags={PARTITION_NAME_TAG: day}), limit=100)
    attempts = [r for r in runs_of_day if r.dagster_run.tags.get(RUN_KEY_TAG, "").split(":")[:2] == key.split(":")]
    if not attempts:
        return key
    if any(r.dagster_run.status not in _FINISHED for r in attempts):
        return None  # going, or queued
    latest = max(attempts, key=lambda r: r.create_timestamp)
    loaded_since = latest.dagster_run.status == DagsterRunStatus.SUCCESS and any(
        r.create_timestamp > latest.create_timestamp and r.dagster_run.status == DagsterRunStatus.SUCCESS
        for r in runs_of_day)
    ended = latest.end_time or latest.update_timestamp.timestamp()
    if not loaded_since and now - ended < RETRY_FAILED_AFTER_SECONDS:
        return None
    # one more than the highest attempt number among those read (the newest ones): a key of its own
    # also past the records read, where a count of them would repeat a key that Dagster passes by
    return f"{key}:{max(_attempt_number(r.dagster_run.tags.get(RUN_KEY_TAG, '')) for r in attempts) + 1}"


def _attempt_number(run_key: str) -> int:
    """`n` of a run key `<day>:<files>:<n>`; 0 for the first attempt's `<day>:<files>`."""
    part = run_key.split(":")[2:3]
    return int(part[0]) if part and part[0].isdigit() else 0


# The refresh record (`status`'s "last refresh") of the runs that are not CLI refreshes, which
# record themselves: the schedule's, the sensor's, a backfill's, the UI's. On by default: `status`
# tells the truth about the nightly runs without a step in the README. Assets materialized from
# the UI's asset graph (a backfill of selected assets, one partition's Materialize) run as Dagster's
# implicit asset job: every asset here is the warehouse's, so its runs are refreshes too.
_RECORDED_JOBS = ("refresh", "rebuild_models", IMPLICIT_ASSET_JOB_NAME)
# Where Dagster loads these definitions from ([tool.dagster] in pyproject.toml, or the file itself).
_DEFINITIONS_MODULE = "orchestration.definitions"
_DEFINITIONS_FILE = Path(__file__).resolve().parents[1] / "definitions.py"


def runs_these_definitions(run) -> bool:
    """The run executes this project's definitions: launched from its code location, or executed
    by the `dagster` command line in a process of its own (`dagster asset materialize -m
    orchestration.definitions`, `dagster job execute`), a run Dagster gives no code location; or in
    the caller's own process (no code origin at all). The recording sensors watch every code
    location, so as to see the command line's runs: another project's runs are passed by here."""
    origin = run.job_code_origin
    if origin is None:
        return True
    pointer = origin.repository_origin.code_pointer
    if getattr(pointer, "module", None) is not None:
        return pointer.module == _DEFINITIONS_MODULE
    python_file = getattr(pointer, "python_file", None)
    return python_file is not None and (Path(pointer.working_directory or "") / python_file).resolve() == \
        _DEFINITIONS_FILE


# The recording sensors: on from the start, and watching every code location (runs_these_definitions).
_RECORDER = {"default_status": DefaultSensorStatus.RUNNING, "monitor_all_code_locations": True}


def _checks_alone(run) -> bool:
    """A run of the implicit asset job that materializes no asset: the UI's "Execute checks". It
    refreshes nothing (a check of raw reads it; the dbt checks refuse to run without a build), so it
    is not the last refresh: recorded, it hid the real one behind "succeeded, no export day"."""
    return run.job_name == IMPLICIT_ASSET_JOB_NAME and not run.asset_selection and bool(run.asset_check_selection)


def _recorded_run(context: RunStatusSensorContext, outcome: str, error: str | None = None) -> None:
    run = context.dagster_run
    if (run.job_name not in _RECORDED_JOBS or run.tags.get(TRIGGER_TAG) == CLI_TRIGGER
            or not runs_these_definitions(run) or _checks_alone(run)):
        return
    stats = context.instance.get_run_record_by_id(run.run_id)
    started = stats.start_time if stats and stats.start_time else time.time()
    ended = (stats.end_time if stats and stats.end_time else time.time()) if outcome != "running" else None
    day_range = run_day_range(run.tags)
    days = days_from_to(*day_range) if day_range else []
    config = run.run_config or {}
    full = bool((config.get("ops", {}).get("warehouse_dbt_models", {}).get("config") or {}).get("full_refresh"))
    record_run(_run_warehouse(run), run_id=run.run_id,
               started_at=dt.datetime.fromtimestamp(started, dt.UTC),
               finished_at=dt.datetime.fromtimestamp(ended, dt.UTC) if ended else None,
               days=days, full=full, outcome=outcome, error=error)


@run_status_sensor(run_status=DagsterRunStatus.STARTED, **_RECORDER,
                   description="Records a refresh run's start for `assistant-analytics status`.")
def record_run_started(context: RunStatusSensorContext):
    _recorded_run(context, "running")


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, **_RECORDER,
                   description="Records a refresh run's success for `assistant-analytics status`.")
def record_run_succeeded(context: RunStatusSensorContext):
    _recorded_run(context, "succeeded")


@run_failure_sensor(**_RECORDER,
                    description="Records a refresh run's failure, with its error, for `assistant-analytics status`.")
def record_run_failed(context: RunFailureSensorContext):
    steps = context.get_step_failure_events()
    # a run that failed before any step (its launch, its config) has no step to name
    _recorded_run(context, "failed", step_failure_summary(steps) if steps else
                  _killed_by(context) or context.failure_event.message)


def _killed_by(context: RunFailureSensorContext) -> str | None:
    """How the run's process ended, when it was killed outright (SIGKILL, the OOM killer): Dagster
    fails such a run with "marked as failed from outside the execution context" and says what
    happened in an engine event just before, the line `status` shows instead."""
    records = context.instance.get_records_for_run(context.dagster_run.run_id, of_type=DagsterEventType.ENGINE_EVENT,
                                                   ascending=False, limit=10).records
    for record in records:
        message = (record.event_log_entry.dagster_event.message or "") if record.event_log_entry.dagster_event else ""
        if " was terminated by signal " in message:
            # "[DagsterApiServer] Run execution process for <id> was terminated by signal 9 (SIGKILL). This usually ..."
            return message.removeprefix("[DagsterApiServer] ").split(". ")[0]
    return None


@run_status_sensor(run_status=DagsterRunStatus.CANCELED, **_RECORDER,
                   description="Records a refresh run's cancellation for `assistant-analytics status`.")
def record_run_canceled(context: RunStatusSensorContext):
    _recorded_run(context, "interrupted")


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks failed a refresh run left started after its process is gone (dagster dev or the "
                    "machine restarted during it), so that the run queue and the sensor go on.")
def fail_runs_whose_process_is_gone(context: SensorEvaluationContext):
    # On from the start, as the recorders: with the README's one run at a time, such a run held the
    # queue, the schedule's runs included, for good; the export-days sensor also does this first
    failed = _fail_runs_whose_process_is_gone(context)
    return SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no started run without its process")


RUN_RECORD_SENSORS = [record_run_started, record_run_succeeded, record_run_failed, record_run_canceled]
