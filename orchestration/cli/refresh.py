"""Running the refresh job in-process, as production does: one Dagster run per contiguous range of
export days (a single-run backfill each), its runs recorded in the Dagster instance."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

from ..errors import UserError, first_line, listed, one_line, say
from ..load.exports import day_folder


def _contiguous_ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _split_ranges(ranges: list[tuple[dt.date, dt.date]], max_days: int, max_bytes: int,
                  day_bytes) -> list[tuple[dt.date, dt.date]]:
    """Cuts ranges into runs of at most max_days days (0: no limit) and max_bytes of export files
    (at least one day a run): one dbt build over a long backfill needs memory for all of it."""
    out = []
    for start, end in ranges:
        run_start, run_bytes = start, 0
        for offset in range((end - start).days + 1):  # no day after `end`: 9999-12-31 has none
            day = start + dt.timedelta(days=offset)
            size = day_bytes(day)
            too_long = max_days and (day - run_start).days + 1 > max_days
            if day > run_start and (too_long or run_bytes + size > max_bytes):
                out.append((run_start, day - dt.timedelta(days=1)))
                run_start, run_bytes = day, 0
            run_bytes += size
        out.append((run_start, end))
    return out


def _export_bytes(exports: Path, day: dt.date) -> int:
    from ..load.exports import export_files

    folder = day_folder(exports, day)
    return sum(p.stat().st_size for p in export_files(folder)) if folder.is_dir() else 0


# A CLI run's steps print their progress on the terminal themselves. Capturing their output for
# Dagster's UI (the instance's compute log manager, by default) starts a `tail` and a Python watcher
# process per step, which a Ctrl-C on the terminal reaches too: each printed a KeyboardInterrupt
# traceback above the CLI's one line. The run's events and history are recorded as configured.
_NO_COMPUTE_LOGS = {"compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager",
                                     "class": "NoOpComputeLogManager"}}


def check_dagster_home() -> str:
    """$DAGSTER_HOME, when set: an absolute path to a directory; else one line."""
    home = os.environ.get("DAGSTER_HOME", "")
    if home and not (Path(home).is_absolute() and Path(home).is_dir()):
        raise UserError(f"DAGSTER_HOME={home!r} is not an absolute path to a directory: "
                        "create it (mkdir -p) or unset DAGSTER_HOME")
    return home


def _instance():
    """Where the refresh's runs are recorded: the Dagster instance of `$DAGSTER_HOME`, else the
    clone's `.dagster_home` when it exists (README "Run it nightly"), else nowhere on disk. A
    refresh from cron or a shell without DAGSTER_HOME so still lands in the deployment's history."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    from ..settings import PROJECT_ROOT
    from .run_history import with_kept_connections

    home = check_dagster_home()
    if not home and (PROJECT_ROOT / ".dagster_home").is_dir():
        home = str(PROJECT_ROOT / ".dagster_home")
    if not home:
        return DagsterInstance.ephemeral()
    try:
        ref = InstanceRef.from_dir(home, overrides=_NO_COMPUTE_LOGS)
        return DagsterInstance.from_ref(with_kept_connections(ref))
    except Exception as exc:  # noqa: BLE001 - a user's dagster.yaml: bad YAML, a setting or class Dagster refuses
        said = first_line(exc)
        if isinstance(exc, OSError) or "sqlite3." in said:
            # its run history's storage: a full disk, a file it may not write; the YAML was read
            raise UserError(f"cannot open the Dagster instance's run history in {home}: {said}") from None
        raise UserError(f"cannot open the Dagster instance of {home} (its dagster.yaml?): {said}") from None


def check_warehouse_path(warehouse: Path, exports: Path, *, make_folder: bool = True) -> None:
    """The warehouse a refresh writes: a file (or none yet) outside the export day folders, whose
    folder exists or can be made (made here unless not `make_folder`), and whose name dbt can use;
    else one line, before anything is loaded or recorded."""
    from ..load.exports import check_warehouse_outside_day_folders
    from ..publish.publish import check_duckdb_file  # it imports DuckDB: not at the CLI's start
    from ..settings import check_warehouse_name

    if warehouse.is_dir():
        raise UserError(f"the warehouse {warehouse} is a directory: give the path of a DuckDB file")
    check_warehouse_outside_day_folders(warehouse, exports)
    check_warehouse_name(warehouse)
    if make_folder:
        ensure_folder(warehouse.parent, "the warehouse's")
    if not warehouse.exists():
        return  # the first refresh makes it
    if not warehouse.is_file():  # a FIFO or a device: opening it to look would wait, or read forever
        raise UserError(f"the warehouse {warehouse} is not a regular file: give the path of a DuckDB file")
    check_duckdb_file(warehouse, if_empty="remove it (the first refresh makes the file)",
                      otherwise="give the path of the warehouse, or of a file that does not exist yet")


def ensure_folder(folder: Path, whose: str) -> None:
    """`folder` exists (made if missing) and this process can write in it; else one line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot make {whose} folder {folder}: a file is in the way") from None
    except OSError as exc:
        raise UserError(f"cannot make {whose} folder {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_file_system(folder) else "permission denied"
        raise UserError(f"cannot write in {whose} folder {folder}: {reason}")


def _read_only_file_system(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_partition_days(days: list[dt.date]) -> None:
    """Export days are Dagster's daily partitions: from ANALYTICS_FIRST_EXPORT_DAY to tomorrow (UTC;
    today's export may already be there). A folder dated outside is misdated, not an export day."""
    from ..load.exports import is_partition_day, last_partition_day
    from ..settings import first_export_day

    check_export_days_begin()
    outside = sorted(d for d in days if not is_partition_day(d))
    if outside:
        raise UserError(f"export day {outside[0]} is outside the export days {first_export_day()} .. "
                        f"{last_partition_day()} "
                        "(from ANALYTICS_FIRST_EXPORT_DAY to tomorrow, UTC)")


def check_export_days_begin() -> None:
    """One line when no day is an export day yet: a first export day after tomorrow, which the
    settings take (any date Dagster's partitions can name), leaves none."""
    from ..load.exports import last_partition_day
    from ..settings import first_export_day

    first, last = first_export_day(), last_partition_day()
    if first > last:
        raise UserError(f"no day is an export day yet: ANALYTICS_FIRST_EXPORT_DAY={first} is after tomorrow "
                        f"({last}, UTC)")


def check_engine_ready(warehouse: Path) -> None:
    """What the engine (ANALYTICS_ENGINE) needs for this warehouse, before any work: on Spark, pyspark,
    a Java runtime Spark can start, and a Spark folder it can use."""
    from ..settings import analytics_engine, spark_dir_for

    if analytics_engine() == "spark":
        from ..build.spark_models import check_spark_runnable
        from ..build.spark_session import check_spark_dir

        check_spark_runnable()
        check_spark_dir(spark_dir_for(warehouse))


def run_refresh(days: list[dt.date], *, warehouse: Path, exports: Path, full: bool, quiet: bool = False) -> None:
    """Runs the refresh job once per contiguous range of export days (a single-run backfill each).
    Its callers (`refresh`, `demo`) have checked the settings (check_refresh_settings) before
    anything else: a bad setting is the first line, before a day's or the warehouse's."""
    check_engine_ready(warehouse)  # before the warehouse's folder is made: a refusal writes nothing
    check_warehouse_path(warehouse, exports)
    check_partition_days(days)
    from ..build.warm_dbt import WarmDbt

    _leave_out_closed_dbt_stream_reports()
    # dbt's process of the first run imports dbt from now on, beside this process's imports and the load
    with WarmDbt() as warm_dbt:
        _run_job(days, warehouse=warehouse, exports=exports, full=full, quiet=quiet, warm_dbt=warm_dbt)


def _leave_out_closed_dbt_stream_reports() -> None:
    """A Ctrl-C during dbt's build closes dagster-dbt's reader of dbt's output mid-line. That reader
    (`DbtCliInvocation._stream_stdout`) catches everything with a bare `except`, GeneratorExit too,
    and yields once more, which Python reports as "Exception ignored in: <generator object ...>" with
    a traceback, above the CLI's "interrupted" or after it (whenever the reader is collected: so for
    the rest of the process). Only that report is left out; any other still shows."""
    default = sys.unraisablehook
    if getattr(default, "leaves_out_closed_dbt_streams", False):
        return

    def hook(unraisable) -> None:
        if not (isinstance(unraisable.exc_value, RuntimeError)
                and str(unraisable.exc_value) == "generator ignored GeneratorExit"
                and "DbtCliInvocation._stream_stdout" in repr(unraisable.object)):
            default(unraisable)

    hook.leaves_out_closed_dbt_streams = True
    sys.unraisablehook = hook


def _run_job(days: list[dt.date], *, warehouse: Path, exports: Path, full: bool, quiet: bool, warm_dbt) -> None:
    from ..build import progress
    from ..build.build_file import refresh_lock
    from ..build.dbt_project import ensure_manifest
    from ..build.gc_tuning import long_lived_set_up
    from ..errors import RefreshBusyError
    from ..serve.status import recording_refresh
    from ..settings import max_days_per_run, max_export_bytes_per_run

    with long_lived_set_up():  # Dagster's, dagster-dbt's and dbt's modules, the job's definitions
        ensure_manifest(warehouse)
        from ..definitions import defs

    def show(message: str) -> None:
        if not quiet:
            write_progress(message)

    progress.set_listener(show)
    # A refresh skips the routine column tests on purpose; Dagster would warn once per skipped check.
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    run_config = {
        "ops": {"warehouse_dbt_models": {"config": {"full_refresh": full}}},
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        # the paths this command was given, as run config of the resource (not through the environment)
        "resources": {"warehouse": {"config": {"warehouse_path": str(warehouse), "exports_dir": str(exports)}}},
    }
    if days:
        job, ranges = defs.resolve_job_def("refresh"), _contiguous_ranges(days)
        run_config["ops"]["raw_exports"] = {"config": {"full_refresh": full}}
        if not full:
            # A full rebuild recomputes everything in its one dbt build whatever its runs; an
            # incremental backfill in runs of a few days gives the same result in bounded memory.
            ranges = _split_ranges(
                ranges,
                max_days=max_days_per_run(),
                max_bytes=max_export_bytes_per_run(),
                day_bytes=lambda day: _export_bytes(exports, day),
            )
    instance = _instance()
    try:
        # One lock for the whole job: a second refresh waits here, before it reads or loads anything.
        with refresh_lock(warehouse):
            loaded = None
            if not days:
                # `--full` alone: rebuild the models from what is loaded, without reloading exports.
                loaded = _loaded_days(warehouse)
                if not loaded:
                    raise UserError("nothing is loaded yet: run `refresh --all` (or give --day)")
                job, ranges = defs.resolve_job_def("rebuild_models"), [(loaded[0], loaded[-1])]
            with recording_refresh(warehouse, days, full=full):
                _run_ranges(job, ranges, run_config, instance, show, warm_dbt,
                            loaded_days=None if loaded is None else len(loaded), loads_first=bool(days) and full)
    except RefreshBusyError as exc:
        raise UserError(str(exc)) from None
    finally:
        progress.set_listener(None)
        instance.dispose()  # its files closed: what their write-ahead logs hold is merged into them


def write_progress(message: str) -> None:
    """A refresh's progress line on stderr. One stderr cannot take (a nightly job's log file on a full
    disk) is lost, not the refresh: it failed the run at its first line."""
    say(f"  {message}")


def run_line(i: int, runs: int, start: dt.date, end: dt.date, loaded_days: int | None) -> str:
    """The line that starts a run: its export days; for `--full` alone, the loaded days (gaps are
    not loaded days) the models are rebuilt from."""
    n_days = (end - start).days + 1 if loaded_days is None else loaded_days
    days = f"export days {start} .. {end} ({n_days} day{'s' * (n_days != 1)})"
    if loaded_days is None:
        return f"run {i}/{runs}: {days}"
    return f"run {i}/{runs}: every model rebuilt from the loaded {days}, none loaded again"


def _run_ranges(job, ranges, run_config, instance, show, warm_dbt, *, loaded_days: int | None,
                loads_first: bool = False) -> None:
    """Runs the ranges one after the other; `warm_dbt` (build/warm_dbt.py), started for the first
    run's dbt build, is replaced by a new one for each later run (a waiting dbt takes one build).
    With `loaded_days` (`--full` alone) the one range spans the loaded days, that many, the models
    are rebuilt from. With `loads_first` (a full rebuild of days in several ranges) every run but the
    last only loads its days: the last one rebuilds every model once, and publishes."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from ..build.child_process import sigterm_kept
    from ..defs.assets import RAW_KEYS
    from ..defs.jobs import CLI_TRIGGER, TRIGGER_TAG
    from ..settings import verbose

    for i, (start, end) in enumerate(ranges, start=1):
        load_only = loads_first and i < len(ranges)
        warm_dbt.ready_for_next_build()  # at once for the first run (its imports took seconds)
        show(run_line(i, len(ranges), start, end, loaded_days)
             + (", loaded only (every model is rebuilt once, in the last run)" if load_only else ""))
        started = time.perf_counter()
        if end > start and not instance.is_ephemeral:
            # before its first step Dagster stores a planned materialization per asset and export
            # day in the run history, an event (and a commit, in its SQLite storage) each: a wait
            # that grows with the days, with nothing else to show meanwhile
            show(f"Dagster records the run's planned materializations (one per asset and day of {start} .. "
                 f"{end}) in its run history first ...")
        # dbt's own log goes to stdout through dagster-dbt; keep stdout for the report.
        with (open(os.devnull, "w") as devnull, contextlib.redirect_stdout(sys.stderr if verbose() else devnull),
              sigterm_kept(), _run_history_written(instance)):
            result = job.execute_in_process(
                run_config={**run_config, "ops": {"raw_exports": run_config["ops"]["raw_exports"]}}
                if load_only else run_config,
                instance=instance,
                tags={ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
                      ASSET_PARTITION_RANGE_END_TAG: end.isoformat(), TRIGGER_TAG: CLI_TRIGGER},
                raise_on_error=False,
                asset_selection=RAW_KEYS if load_only else None,
            )
        if not result.success:
            if _interrupted(result):
                raise KeyboardInterrupt  # Ctrl-C in the run: "interrupted", status 130, as before it
            signum = warm_dbt.killed_by() or _dbt_command_killed_by(result)
            summary = _killed_dbt_line(signum) if signum else _failure_summary(result)
            raise UserError(f"refresh of {start} .. {end} failed: {summary}")
        show(f"run {i}/{len(ranges)} done in {time.perf_counter() - started:.1f}s")
        for message in failed_check_messages(result.get_asset_check_evaluations()):
            say(one_line(f"assistant-analytics: warning: {message}"))


def failed_check_messages(evaluations) -> list[str]:
    """A warning for each of a run's checks that failed with severity ERROR, which Dagster's UI
    flags and a CLI user would not see otherwise (the refresh still succeeds: the good lines stay
    loaded). The rejected-share check names the days of the run over the threshold."""
    from dagster import AssetCheckSeverity

    messages = []
    for evaluation in evaluations:
        if evaluation.passed or evaluation.severity != AssetCheckSeverity.ERROR:
            continue
        over = evaluation.metadata.get("days_over_threshold")
        if over is None:
            asset = evaluation.asset_key.to_user_string()
            messages.append(f"Dagster's check {evaluation.check_name} of {asset} failed")
            continue
        if over.value:
            threshold = evaluation.metadata["threshold"].value
            days = listed([f"{day} ({share:.2%})" for day, share in sorted(over.value.items())])
            messages.append(f"rejected lines above ANALYTICS_MAX_REJECTED_SHARE ({threshold:g}) on export "
                            f"day(s) {days}; see raw.rejected_lines (Dagster's check {evaluation.check_name} failed)")
    return messages


@contextlib.contextmanager
def _run_history_written(instance):
    """Dagster writes the run's events to its instance's storage as they come; one it cannot write (a
    full disk under DAGSTER_HOME) fails the run with the storage's traceback: one line instead, which
    says where. The warehouse is left as it was: the run publishes only at its end."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only the storage's errors are turned into a line
        if not type(exc).__module__.startswith(("sqlalchemy", "sqlite3")):
            raise
        where = getattr(instance, "root_directory", None) or "the Dagster instance"
        raise UserError(f"cannot write the refresh's run history in {where}: {first_line(exc)}") from None


# dagster-dbt's error when the dbt command it ran (`assistant-analytics-dbt`, which hands the build to
# the dbt made ready ahead) ended by a signal: a negative exit code, on a line after the first
_DBT_COMMAND_KILLED = re.compile(r"The dbt CLI process with command.*failed with exit code `-(\d+)`", re.S)


def _dbt_command_killed_by(result) -> int | None:
    """The signal that ended dagster-dbt's dbt command, killed from outside by the name the docs
    give dbt's process: dagster-dbt's multi-line error, whose first line alone said nothing."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            match = _DBT_COMMAND_KILLED.search(event.step_failure_data.error.message or "")
            if match:
                return int(match.group(1))
    return None


def _killed_dbt_line(signum: int) -> str:
    """dbt's process killed from outside: dagster-dbt only says that dbt failed. The system's
    out-of-memory killer is the usual sender of SIGKILL."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    line = f"warehouse_dbt_models: dbt's process was killed by {name}"
    if signum == signal.SIGKILL:
        line += (" (the system kills a process so when memory runs out: a lower ANALYTICS_DUCKDB_MEMORY_LIMIT "
                 "makes DuckDB spill to disk sooner)")
    return line


# What a step fails with when SIGINT reaches the run: Dagster's handler stops the step (dbt's
# too), DuckDB's Python client stops the query it was running ("RuntimeError: Query interrupted"),
# Python stops the rest.
_INTERRUPTIONS = {"DagsterExecutionInterruptedError", "InterruptException", "KeyboardInterrupt"}
_QUERY_INTERRUPTED = "Query interrupted"


def _interrupted(result) -> bool:
    """Whether a failed run was stopped by SIGINT (Ctrl-C) rather than by an error."""
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None:
                if err.cls_name in _INTERRUPTIONS or (err.cls_name == "RuntimeError"
                                                      and err.message.strip().endswith(_QUERY_INTERRUPTED)):
                    return True
                err = err.cause
    return False


def _failure_summary(result) -> str:
    """The failed dbt nodes, or else the first failed step and its error's first line."""
    from ..build.dbt_results import step_failure_summary

    return step_failure_summary(result.all_events)


def _loaded_days(warehouse: Path) -> list[dt.date]:
    """The export days the build file holds (the published file's when there is no build file yet);
    under the refresh lock, so that no other refresh is writing it."""
    import duckdb

    from ..build.build_file import build_file_error, damaged_warehouse_error, prepare_build_file
    from ..load.raw import loaded_export_days
    from ..publish.publish import connect_published
    from ..settings import build_path_for

    build = build_path_for(warehouse)
    if build.exists():
        prepare_build_file(warehouse)  # started again from the published file if that was replaced
    path = build if build.exists() else warehouse
    if not path.exists():
        return []
    try:
        conn = connect_published(path)  # the build file, or else the published one
        try:
            return sorted(loaded_export_days(conn))
        finally:
            conn.close()
    except duckdb.Error as exc:
        if path == build:
            raise build_file_error(build, exc, warehouse) from None
        damaged = damaged_warehouse_error(warehouse, exc)
        if damaged is not None:
            raise damaged from None
        first = first_line(exc)
        raise UserError(f"cannot read the export days loaded into {warehouse}: {first}") from None
