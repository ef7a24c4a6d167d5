"""What each CLI command does. Refreshes run the same Dagster job as production, in-process."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from ..errors import UserError, listed, one_line, say, spaces_shown, standard_output
from ..load.exports import (
    day_folder,
    days_from_to,
    days_with_folders,
    is_export_day,
    is_partition_day,
    last_partition_day,
    list_export_days,
    missing_day_message,
    named_as_day_folder,
    range_gap_notes,
)
from ..serve.report import (
    ReportParams,
    build_report,
    check_published_file,
    connect_read_only,
    data_quality_summary,
    format_table,
    reading_warehouse,
    report_notices,
)
from .refresh import (
    check_dagster_home,
    check_engine_ready,
    check_export_days_begin,
    check_partition_days,
    check_warehouse_path,
    ensure_folder,
    run_refresh,
)


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
    from ..build.seeds import check_seeds
    from ..settings import check_refresh_settings

    check_refresh_days(args)  # the options' own errors first
    check_refresh_settings()  # then a bad setting, before a day's: not only once that day is there
    check_seeds()  # and a bad seed, before the day's load: dbt's tests on the seeds fail after it
    days: list[dt.date] = list(args.day)
    # a day outside the export days is that, whether or not it has a folder
    check_partition_days([*days, *([args.from_, args.to] if args.from_ else [])])  # before the gaps' note
    if args.from_:
        days += _days_of_range(args.exports, args.from_, args.to)
    if args.all:
        days += _days_of_all(args.exports)
    if not days and not args.full:
        raise UserError("say which export days: --day YYYY-MM-DD, --from/--to, or --all")
    missing = [d for d in days if not is_export_day(args.exports, d)]
    if missing:
        raise UserError(missing_day_message(args.exports, missing[0]))
    run_refresh(days, warehouse=args.warehouse, exports=args.exports, full=args.full)
    return 0


def _days_of_range(exports: Path, first: dt.date, last: dt.date) -> list[dt.date]:
    """The export days of a backfill's range that have a folder (load/exports.days_with_folders); the
    others are named in a note, and `status` lists them among the missing days."""
    found, gaps = days_with_folders(exports, days_from_to(first, last))
    for line in range_gap_notes(exports, gaps):
        note(line)
    return found


def _days_of_all(exports: Path) -> list[dt.date]:
    """Every export day under the exports root; a folder dated outside the export days (misdated:
    load/exports.is_partition_day) is passed by with a note, as the sensor passes it by."""
    from ..load.exports import MISNAMED_DAY_FOLDERS, linked_day_folders_note, no_exports_folder, scan_day_folders

    check_export_days_begin()
    folder_days, misnamed, linked = scan_day_folders(exports)
    if misnamed:
        note(f"not reading what is {MISNAMED_DAY_FOLDERS} ({len(misnamed)}): "
             f"{listed([spaces_shown(n) for n in misnamed])}")
    if linked:
        note(linked_day_folders_note(linked))
    if not folder_days:
        raise UserError(no_exports_folder(exports) or f"no export days (dt=YYYY-MM-DD folders) found in {exports}")
    days = [d for d in folder_days if is_partition_day(d)]
    outside = [d.isoformat() for d in folder_days if d not in days]
    if outside:
        note(f"passing by {len(outside)} folder(s) dated outside the export days (ANALYTICS_FIRST_EXPORT_DAY "
             f"to tomorrow, UTC): {listed(['dt=' + d for d in outside])}")
    if not days:
        raise UserError(f"no export day in {exports} is within the export days: every dt= folder is dated outside")
    return days


def note(message: str | None) -> None:
    """A hint that is not an error (a period without data): one line on stderr."""
    if message:
        say(one_line(f"assistant-analytics: note: {message}"))


def print_report(warehouse: Path, params: ReportParams, fmt: str, exports: Path | None = None) -> None:
    """The report of `params` on stdout (JSON or a table), its data-quality line and any note on
    stderr: what `report` prints, and `demo` at its end (`exports`: the folder a missing warehouse's
    hint builds it from)."""
    conn = connect_read_only(warehouse, exports)
    try:
        with reading_warehouse(warehouse, exports):
            report = build_report(conn, params)  # validates the filters (report.validate_filters)
            quality = data_quality_summary(conn, params)
            notices = report_notices(conn, params)
    finally:
        conn.close()
    lines = notices.lines
    if fmt == "json":
        write_result(json.dumps(report, indent=2))
        if quality["lines_rejected"]:
            rejected = (f"{quality['lines_rejected']} of {quality['lines_read']} lines rejected on the period's "
                        "export days (see raw.rejected_lines)")
            if notices.has_data:
                say(f"data quality: {rejected}")
            else:  # a period without data is said in one line (interfaces.md): this is a reason, in it
                lines = [f"{lines[0]}; {rejected}"]
    else:
        write_result(format_table(report, quality))
    for line in lines:
        note(line)


def cmd_report(args: argparse.Namespace) -> int:
    print_report(args.warehouse, ReportParams(args.assistant, args.from_, args.to, args.channel), args.format,
                 args.exports)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..serve.exporting import export

    with reading_warehouse(args.warehouse, args.exports):
        messages = export(args)
    for message in messages:
        note(message)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..build.build_file import unbuilt_work_of
    from ..build.refresh_state import built_with_other_seeds, seeds_fingerprint
    from ..serve.status import collect_status, format_status

    def models_outdated(conn) -> bool:
        return built_with_other_seeds(conn, seeds_fingerprint())

    def unbuilt_work() -> dict | None:
        work = unbuilt_work_of(args.warehouse, models_outdated)
        return None if work is None else dataclasses.asdict(work)

    with reading_warehouse(args.warehouse, args.exports):
        status = collect_status(args.warehouse, args.exports, models_outdated, unbuilt_work)
    write_result(json.dumps(status, indent=2) if args.format == "json" else format_status(status))
    return 0


def write_result(text: str) -> None:
    """A command's result on stdout (errors.standard_output says what a stdout that cannot take it gives)."""
    with standard_output("the result") as out:
        print(text, file=out)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..build.seeds import check_seeds
    from ..demo.generator import generate_exports
    from ..demo.writer import mark
    from ..settings import check_refresh_settings, warehouse_option

    started = time.perf_counter()
    # what the refresh checks, before the exports are written, not after; nothing is made (the
    # warehouse's folder, Spark's) before the demo's target is known not to be refused
    check_refresh_settings()
    check_seeds()
    check_demo_days(args.days)
    check_dagster_home()
    check_warehouse_path(args.warehouse, args.exports, make_folder=False)
    check_demo_target(args.exports, args.warehouse)
    check_engine_ready(args.warehouse)
    ensure_folder(args.warehouse.parent, "the warehouse's")
    ensure_folder(args.exports, "the exports'")
    say(f"generating {args.days} days of sample exports in {args.exports} ...")
    summary = generate_exports(args.exports, days=args.days, seed=args.seed)
    mark(args.exports, warehouse=args.warehouse)  # before the refresh: a demo cut short is still its own
    say(f"  {summary['events']:,} lines over {summary['days']} export days "
        f"({summary['first_day']} .. {summary['last_day']}), {summary['bad_lines']} bad lines, "
        f"{summary['duplicates']} duplicates, {summary['late_events']} late events")
    days = [dt.date.fromisoformat(summary["first_day"]) + dt.timedelta(days=i) for i in range(summary["days"])]
    say(f"refreshing {args.warehouse} through the Dagster job ...")
    run_refresh(days, warehouse=args.warehouse, exports=args.exports, full=False)
    note(earlier_demo_days_note(args.exports, days))
    assistant = summary["assistants"][0]
    last = dt.date.fromisoformat(summary["last_day"])
    say(f"\nreport for {assistant}, last 7 days:\n")
    print_report(args.warehouse, ReportParams(assistant, last - dt.timedelta(days=6), last), args.format)
    where = warehouse_option(args.warehouse)  # the hints name the warehouse unless it is the default one
    program = shown_program()
    say(f"\ndemo finished in {time.perf_counter() - started:.1f}s; try:\n"
        f"  {program} report{where} --assistant {assistant} --from {summary['first_day']} "
        f"--to {summary['last_day']} --format table\n"
        f"  {program} dashboard{where}")
    return 0


def check_demo_days(days: int) -> None:
    """The demo's export days (`days` of them, up to DEMO_LAST_DAY) are export days the refresh
    takes, checked before anything is generated: a --days reaching before ANALYTICS_FIRST_EXPORT_DAY
    is one line with the most that fit, not a refusal after the exports were written (nor, for a
    --days reaching before the year 1, a traceback)."""
    from ..demo.generator import DEMO_LAST_DAY
    from ..settings import first_export_day

    check_export_days_begin()
    first, last = first_export_day(), last_partition_day()
    if not is_partition_day(DEMO_LAST_DAY):
        raise UserError(f"the demo's export days end on {DEMO_LAST_DAY}, outside the export days {first} .. {last} "
                        "(from ANALYTICS_FIRST_EXPORT_DAY to tomorrow, UTC)")
    most = (DEMO_LAST_DAY - first).days + 1
    if days > most:
        raise UserError(f"--days {days} reaches before the first export day {first} (ANALYTICS_FIRST_EXPORT_DAY): "
                        f"the demo's days end on {DEMO_LAST_DAY}, so at most --days {most}")


def earlier_demo_days_note(exports: Path, days: list[dt.date]) -> str | None:
    """A demo run again with fewer --days rewrites its days and leaves the earlier demo's others in
    the folder and the warehouse (the demo deletes nothing): the report and the dashboard count them
    too, so the user is told, with how to get a sample of these days alone."""
    from ..demo.writer import days_the_demo_wrote

    earlier = sorted((days_the_demo_wrote(exports) or set()) - set(days))
    if not earlier:
        return None
    first, last = earlier[0].isoformat(), earlier[-1].isoformat()
    return (f"{len(earlier)} export day(s) of an earlier demo ({first} .. {last}) are still in {exports} and in the "
            f"warehouse, beside these {len(days)}: the report and the dashboard count them too; for these days alone, "
            "give the demo a new --exports and --warehouse")


def shown_program() -> str:
    """This program as a hint names it, to be pasted into a shell: `assistant-analytics` when the
    shell finds this one under that name, else its absolute path (the Quickstart does not activate
    the venv, so its bin folder is not on PATH)."""
    running = Path(sys.argv[0])
    if running.name != "assistant-analytics" or not running.is_file():
        return "assistant-analytics"  # not started as the installed command (python -m, a test)
    found = shutil.which("assistant-analytics")
    if found and Path(found).resolve() == running.resolve():
        return "assistant-analytics"
    return shlex.quote(str(running.absolute()))


def check_demo_target(exports: Path, warehouse: Path) -> None:
    """The demo writes sample export days (replacing any of the same date) and loads them: not into
    a folder of real exports, nor into a warehouse built from them. A folder it wrote before is
    marked with the days it wrote and the warehouses it loaded them into (demo/writer.py); an
    existing warehouse is its own when the mark names it, or (a demo before the mark did) when each
    day it holds was loaded from that folder's files as they are."""
    from ..demo.writer import days_the_demo_wrote, loaded_by_the_demo, written_by_the_demo

    # a folder named like a day folder is one, of another exports folder (its parent)
    in_day = next((f for f in (exports, *exports.parents) if named_as_day_folder(f.name)), None)
    if in_day:
        where = "is an export day folder" if in_day == exports else f"is in the export day folder {in_day}"
        raise UserError(f"{exports} {where}, whose files are the platform's, only read: the demo would write its "
                        "sample days there; give it an exports folder outside one")
    days = list_export_days(exports) if exports.is_dir() else []
    marked = written_by_the_demo(exports)
    written = days_the_demo_wrote(exports) if marked else set()
    foreign = [d for d in days if written is not None and d not in written]
    if foreign:
        # an existing warehouse is refused too once the folder is another (the check below): both said at once
        also = f" and, as {warehouse} exists, a new file with --warehouse" if warehouse.exists() else ""
        raise UserError(f"{exports} holds export days the demo did not mark as its own ({foreign[0].isoformat()} "
                        "...; a demo before 2026-12-05 marked none): the demo would replace them with sample data; "
                        f"give it an empty folder with --exports{also}")
    if warehouse.exists() and not (marked and (loaded_by_the_demo(exports, warehouse)
                                               or _loaded_from(warehouse, exports))):
        # "from these exports": the file may be a demo's, built from another folder
        raise UserError(f"{warehouse} exists and was not built by the demo from {exports}: the demo would load "
                        "sample data into it; give it a new file with --warehouse")


def _loaded_from(warehouse: Path, exports: Path) -> bool:
    """Whether the warehouse holds export days, each loaded from this folder's files as they are now
    (the same files; the loader's revision aside)."""
    import duckdb

    from ..load.exports import fingerprint, same_files
    from ..load.raw import loaded_export_days

    try:
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            loaded = loaded_export_days(conn)
    except duckdb.Error:
        return False  # not a DuckDB file this driver reads
    if not loaded:
        return False  # no day loaded from anywhere: some other DuckDB file
    for day, recorded in loaded.items():
        folder = day_folder(exports, day)
        if not folder.is_dir() or not same_files(recorded, fingerprint(folder)):
            return False
    return True


def streamlit_command(port: int, host: str, warehouse: Path, exports: Path) -> list[str]:
    """The Streamlit server of the dashboard, on `host` only; the toolbar keeps the viewer's
    options (print, theme) and drops the developer's ("Deploy", rerun, clear cache). The warehouse
    and the exports folder (which the page's hints name) go to the page as script arguments (after `--`)."""
    app = Path(__file__).parent.parent / "serve" / "dashboard.py"
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer", "--", "--warehouse", str(warehouse), "--exports", str(exports)]


def check_listen_address(host: str, port: int) -> None:
    """Streamlit reports an address it cannot listen on as a log line or a traceback, and exits 1:
    the address is tried here first, for one line and status 2 (taken, or not this machine's)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit's server binds
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


def cmd_dashboard(args: argparse.Namespace) -> int:
    import subprocess

    from ..build.child_process import ended_with_this_process

    # interfaces.md: a missing warehouse file is an error, as for report and export (the page itself
    # still says so when the file goes away while it runs)
    check_published_file(args.warehouse, args.exports)
    check_listen_address(args.host, args.port)
    return subprocess.call(streamlit_command(args.port, args.host, args.warehouse, args.exports),
                           preexec_fn=ended_with_this_process())


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
