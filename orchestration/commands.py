"""What each CLI command does. Refreshes run the same Dagster job as production, in-process."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

from .errors import UserError
from .loader import day_folder, is_export_day, list_export_days
from .report import ReportParams, build_report, connect_read_only, data_quality_summary, format_table, period_notice


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
    from .loader import export_files

    folder = day_folder(exports, day)
    return sum(p.stat().st_size for p in export_files(folder)) if folder.is_dir() else 0


def _instance():
    """Where the refresh's runs are recorded: the Dagster instance of `$DAGSTER_HOME`, else the
    clone's `.dagster_home` when it exists (README "Run it nightly"), else nowhere on disk. A
    refresh from cron or a shell without DAGSTER_HOME so still lands in the deployment's history."""
    from dagster import DagsterInstance

    from .settings import PROJECT_ROOT

    home = os.environ.get("DAGSTER_HOME", "")
    if home:
        if not (Path(home).is_absolute() and Path(home).is_dir()):
            raise UserError(f"DAGSTER_HOME={home!r} is not an absolute path to a directory: "
                            "create it (mkdir -p) or unset DAGSTER_HOME")
        return DagsterInstance.get()
    if (PROJECT_ROOT / ".dagster_home").is_dir():
        return DagsterInstance.from_config(str(PROJECT_ROOT / ".dagster_home"))
    return DagsterInstance.ephemeral()


def _check_partition_days(days: list[dt.date]) -> None:
    """Export days are Dagster's daily partitions: from ANALYTICS_FIRST_EXPORT_DAY to tomorrow (UTC;
    today's export may already be there). A folder dated outside is misdated, not an export day."""
    from .settings import first_export_day

    first = first_export_day()
    last = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    outside = sorted(d for d in days if not first <= d <= last)
    if outside:
        raise UserError(f"export day {outside[0]} is outside the export days {first} .. {last} (from "
                        "ANALYTICS_FIRST_EXPORT_DAY to tomorrow, UTC)")


def run_refresh(days: list[dt.date], *, full: bool, quiet: bool = False) -> None:
    """Runs the refresh job once per contiguous range of export days (a single-run backfill each)."""
    from . import progress
    from .dbt_project import ensure_manifest
    from .settings import (check_refresh_settings, default_exports, default_warehouse, max_days_per_run,
                           max_export_bytes_per_run)
    from .status import recording_refresh
    from .warehouse import RefreshBusyError, refresh_lock

    check_refresh_settings()  # a bad setting fails here, before anything is loaded
    _check_partition_days(days)
    ensure_manifest()
    from .definitions import defs

    def show(message: str) -> None:
        if not quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    progress.set_listener(show)
    # A refresh skips the routine column tests on purpose; Dagster would warn once per skipped check.
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    run_config = {
        "ops": {"warehouse_dbt_models": {"config": {"full_refresh": full}}},
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    if days:
        job, ranges = defs.resolve_job_def("refresh"), _contiguous_ranges(days)
        if not full:
            # A full rebuild recomputes everything in its one dbt build whatever its runs; an
            # incremental backfill in runs of a few days gives the same result in bounded memory.
            exports = default_exports()
            ranges = _split_ranges(
                ranges,
                max_days=max_days_per_run(),
                max_bytes=max_export_bytes_per_run(),
                day_bytes=lambda day: _export_bytes(exports, day),
            )
    else:
        # `--full` alone: rebuild the models from what is loaded, without reloading exports.
        loaded = _loaded_days()
        if not loaded:
            raise UserError("nothing is loaded yet: run `refresh --all` (or give --day)")
        job, ranges = defs.resolve_job_def("rebuild_models"), [(loaded[0], loaded[-1])]
    instance = _instance()
    try:
        # One lock for the whole job: a second refresh waits here, before it loads anything.
        with refresh_lock(default_warehouse()), recording_refresh(default_warehouse(), days, full=full):
            _run_ranges(job, ranges, run_config, instance, show)
    except RefreshBusyError as exc:
        raise UserError(str(exc)) from None
    finally:
        progress.set_listener(None)


def _run_ranges(job, ranges, run_config, instance, show) -> None:
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from .settings import verbose

    for i, (start, end) in enumerate(ranges, start=1):
        n_days = (end - start).days + 1
        show(f"run {i}/{len(ranges)}: export days {start} .. {end} ({n_days} day{'s' * (n_days > 1)})")
        started = time.perf_counter()
        started_at = time.time()
        # dbt's own log goes to stdout through dagster-dbt; keep stdout for the report.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(sys.stderr if verbose() else devnull):
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                tags={ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
                      ASSET_PARTITION_RANGE_END_TAG: end.isoformat()},
                raise_on_error=False,
            )
        if not result.success:
            raise UserError(f"refresh of {start} .. {end} failed: "
                            f"{_dbt_failures(started_at) or _failure_summary(result)}")
        show(f"run {i}/{len(ranges)} done in {time.perf_counter() - started:.1f}s")


_ERROR_CLASS_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


def _failure_summary(result) -> str:
    """The first failed step and the innermost error's first line, without the class name."""
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None and err.cause is not None:
                err = err.cause
            message = err.message if err else "unknown error"
            dbt_error = _dbt_error_line(message)
            if dbt_error:
                return f"{event.step_key}: dbt failed: {dbt_error}"
            lines = message.strip().splitlines() or ["error"]
            first = _ERROR_CLASS_PREFIX.sub("", lines[0])
            return f"{event.step_key}: {first}"
    return "unknown error"


def _dbt_error_line(message: str) -> str | None:
    """dbt's own error in dagster-dbt's message, whose first line only says that the dbt process
    failed: dagster-dbt appends the messages of dbt's error events (e.g. a failure before any node
    ran, which leaves no run_results.json) after "Errors parsed from dbt logs:"."""
    _, found, errors = message.partition("Errors parsed from dbt logs:")
    for line in errors.splitlines() if found else []:
        line = line.strip()
        # "Encountered an error:" heads the line that says what; a traceback follows it
        if line and not line.endswith(":") and not line.startswith("Traceback"):
            return line
    return None


def _dbt_failures(since: float) -> str | None:
    """The dbt nodes that errored or failed in this run, from dbt's run_results.json (dagster-dbt's
    own error only says that the dbt process failed): `node: first line of its message`."""
    from .settings import DBT_PROJECT_DIR

    results = [p for p in (DBT_PROJECT_DIR / "target").glob("*/run_results.json") if p.stat().st_mtime >= since]
    found = []
    for path in results:
        try:
            nodes = json.loads(path.read_text())["results"]
        except (OSError, ValueError, KeyError):
            continue
        for node in nodes:
            if node.get("status") in ("error", "fail"):
                lines = [ln.strip() for ln in (node.get("message") or node["status"]).splitlines() if ln.strip()]
                # "Runtime Error in model x (path)" heads dbt's errors; the line after it says what
                if len(lines) > 1 and re.match(r"^\w+ Error in \w+ ", lines[0]):
                    lines = lines[1:]
                found.append(f"{node['unique_id'].split('.')[2]}: {lines[0]}")
    if not found:
        return None
    return "; ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")


def _loaded_days() -> list[dt.date]:
    from .settings import build_path_for, default_warehouse

    import duckdb

    wh = default_warehouse()
    path = build_path_for(wh) if build_path_for(wh).exists() else wh
    if not path.exists():
        return []
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in conn.execute("select export_date from raw.export_days order by 1").fetchall()]
    except duckdb.CatalogException:
        return []
    finally:
        conn.close()


def check_refresh_days(args: argparse.Namespace) -> None:
    """The days are given one way only: --day, --from/--to, or --all (a mix is a mistake, not a union)."""
    ways = [name for name, given in (("--day", args.day), ("--from/--to", args.from_ or args.to),
                                     ("--all", args.all)) if given]
    if len(ways) > 1:
        raise UserError(f"{' and '.join(ways)} contradict each other: give the export days one way only")
    if (args.from_ or args.to) and not (args.from_ and args.to):
        raise UserError("--from and --to go together")
    if args.from_ and args.from_ > args.to:
        raise UserError(f"--from {args.from_} is after --to {args.to}")


def cmd_refresh(args: argparse.Namespace) -> int:
    check_refresh_days(args)
    days: list[dt.date] = list(args.day)
    if args.from_:
        days += [args.from_ + dt.timedelta(days=i) for i in range((args.to - args.from_).days + 1)]
    if args.all:
        days += list_export_days(args.exports)
        if not days:
            raise UserError(f"no export days (dt=YYYY-MM-DD folders) found in {args.exports}")
    if not days and not args.full:
        raise UserError("say which export days: --day YYYY-MM-DD, --from/--to, or --all")
    missing = [d for d in days if not is_export_day(args.exports, d)]
    if missing:
        raise UserError(f"export day {missing[0]} not found: no folder {day_folder(args.exports, missing[0])}")
    run_refresh(days, full=args.full)
    return 0


def _report_params(args: argparse.Namespace) -> ReportParams:
    return ReportParams(args.assistant, args.from_, args.to, args.channel)


def note(message: str | None) -> None:
    """A hint that is not an error (a period without data): one line on stderr."""
    if message:
        print(f"assistant-analytics: note: {message}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    params = _report_params(args)
    conn = connect_read_only(args.warehouse)
    try:
        report = build_report(conn, params)  # validates the filters (report.validate_filters)
        quality = data_quality_summary(conn, params)
        notice = period_notice(conn, assistant=params.assistant, date_from=params.date_from,
                               date_to=params.date_to, channel=params.channel)
    finally:
        conn.close()
    if args.format == "json":
        print(json.dumps(report, indent=2))
        if quality["lines_rejected"]:
            print(f"data quality: {quality['lines_rejected']} of {quality['lines_read']} lines rejected on the "
                  f"period's export days (see raw.rejected_lines)", file=sys.stderr)
    else:
        print(format_table(report, quality))
    note(notice)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .exporting import export

    note(export(args))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import collect_status, format_status

    status = collect_status(args.warehouse, args.exports)
    print(json.dumps(status, indent=2) if args.format == "json" else format_status(status))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo_data import generate_exports

    started = time.perf_counter()
    print(f"generating {args.days} days of sample exports in {args.exports} ...", file=sys.stderr)
    summary = generate_exports(args.exports, days=args.days, seed=args.seed)
    print(f"  {summary['events']:,} lines over {summary['days']} export days "
          f"({summary['first_day']} .. {summary['last_day']}), {summary['bad_lines']} bad lines, "
          f"{summary['duplicates']} duplicates, {summary['late_events']} late events", file=sys.stderr)
    days = [dt.date.fromisoformat(summary["first_day"]) + dt.timedelta(days=i) for i in range(summary["days"])]
    print(f"refreshing {args.warehouse} through the Dagster job ...", file=sys.stderr)
    run_refresh(days, full=False)
    assistant = summary["assistants"][0]
    last = dt.date.fromisoformat(summary["last_day"])
    ns = argparse.Namespace(warehouse=args.warehouse, assistant=assistant, from_=last - dt.timedelta(days=6),
                            to=last, channel=None, format=args.format)
    print(f"\nreport for {assistant}, last 7 days:\n", file=sys.stderr)
    cmd_report(ns)
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s; try:\n"
          f"  assistant-analytics report --assistant {assistant} --from {summary['first_day']} "
          f"--to {summary['last_day']} --format table\n"
          f"  assistant-analytics dashboard", file=sys.stderr)
    return 0


def streamlit_command(port: int, host: str) -> list[str]:
    """The Streamlit server of the dashboard, on `host` only; the toolbar keeps the viewer's
    options (print, theme) and drops the developer's ("Deploy", rerun, clear cache)."""
    app = Path(__file__).with_name("dashboard.py")
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer"]


def cmd_dashboard(args: argparse.Namespace) -> int:
    import subprocess

    return subprocess.call(streamlit_command(args.port, args.host))


COMMANDS = {
    "refresh": cmd_refresh,
    "report": cmd_report,
    "export": cmd_export,
    "status": cmd_status,
    "demo": cmd_demo,
    "dashboard": cmd_dashboard,
}


def run_command(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
