"""`assistant-analytics status`: what the published warehouse holds and how its refreshes went.

Everything is read from the published file (opened read-only and closed at once, so a refresh is
never blocked), from the export folders, and from the refresh record: a small JSON file beside the
warehouse (`.<file name>.refresh.json`) that each CLI refresh writes when it starts and when it ends. A
failed refresh publishes nothing, so only that record can tell that it ran and how it ended.

Pending work is what a refresh would load: export day folders not loaded yet, whose files
changed since they were loaded (re-delivered), or loaded by an earlier revision of the loader, by
the fingerprint the sensor compares.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from ..errors import LoadError, UserError, first_line, one_line, spaces_shown
from ..files import replace_file_or_skip
from ..load.exports import MISNAMED_DAY_FOLDERS
from ..processes import process_gone
from ..publish.publish import connect_published, refresh_running

LATEST_DAYS = 7  # export days shown with their rejected lines


# status's table says what a folder outside the export days means for a refresh
_REASON_SHOWN = {"outside": "outside the export days (misdated: refresh --all and the sensor pass them by)",
                 "unreadable": "their folder or files cannot be read now (a refresh of them fails)",
                 "older_loader": "loaded by an earlier version of the loader (to load again)"}


def record_path_for(warehouse: Path) -> Path:
    """`.<file name>.refresh.json` beside the warehouse (by its whole name: `w.db` and `w.duckdb`
    in one folder keep records of their own)."""
    return warehouse.with_name(f".{warehouse.name}.refresh.json")


def _record_path_before_its_rename(warehouse: Path) -> Path:
    """Where versions before the record took the warehouse's whole name kept it: `.<stem>.refresh.json`.
    Read when there is no record under today's name (the last refresh before an upgrade); removed
    once a refresh writes today's."""
    return warehouse.with_name(f".{warehouse.stem}.refresh.json")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Blanks a record is written with beyond its JSON (which allows them): room for the longer record
# a refresh writes when it ends (its end, its length, an error line) in the blocks the file already
# has, for when the disk is too full for a new file (`_write_over`).
_RECORD_ROOM = 1024


def _record_text(record: dict) -> bytes:
    return (json.dumps(record, indent=2) + "\n").encode()


def _write_record(warehouse: Path, record: dict) -> None:
    # The record only informs `status`; a refresh that can write its build file but not this small
    # file beside it still does its job.
    path, before_its_rename = record_path_for(warehouse), _record_path_before_its_rename(warehouse)
    if not replace_file_or_skip(path, _record_text(record) + b" " * _RECORD_ROOM):
        _write_over(path, record)
    if before_its_rename != path:  # a name with no suffix: the same
        with contextlib.suppress(OSError):
            before_its_rename.unlink(missing_ok=True)


def _write_over(path: Path, record: dict) -> None:
    """The record written over the file's own bytes, where no new block is needed: a refresh that
    failed on a full disk (the usual reason a new file cannot be written) is then recorded as
    failed, with its error, not left "running" for `status` to call interrupted. An error line too
    long for the room is cut. A reader at that moment may find the file unreadable, as if there were
    no record."""
    try:
        with open(path, "r+b") as file:
            room = os.fstat(file.fileno()).st_size
            data = _record_text(record)
            error = record.get("error") or ""
            if len(data) > room and error:
                # every character is at least one byte of the text: this many fewer make it fit
                kept = max(0, len(error) - (len(data) - room) - len("..."))
                data = _record_text({**record, "error": error[:kept] + "..."})
            if len(data) <= room:
                file.write(data.ljust(room, b" "))
    except OSError:
        pass  # no record to write over, or not even that: `status` says what it last knew


@contextlib.contextmanager
def recording_refresh(warehouse: Path, days: list[dt.date], *, full: bool) -> Iterator[None]:
    """Records a refresh's start, then its end: when, which days, how long, and how it ended."""
    started, clock = _now(), time.monotonic()
    record = _record(started_at=started.isoformat(timespec="seconds"), days=sorted({d.isoformat() for d in days}),
                     full=full, outcome="running", pid=os.getpid())
    _write_record(warehouse, record)
    try:
        yield
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        record["outcome"] = "interrupted" if interrupted else "failed"
        lines = str(exc).strip().splitlines()
        # an interruption without words (Ctrl-C, a `kill`) has no error: the outcome says it all
        record["error"] = lines[0] if lines else (None if interrupted else type(exc).__name__)
        raise
    else:
        record["outcome"] = "succeeded"
    finally:
        record["finished_at"] = _now().isoformat(timespec="seconds")
        record["seconds"] = round(time.monotonic() - clock, 1)
        _write_record(warehouse, record)


def record_run(warehouse: Path, *, run_id: str, started_at: dt.datetime, finished_at: dt.datetime | None,
               days: list[dt.date], full: bool, outcome: str, error: str | None = None) -> None:
    """The record of a run that is not a CLI refresh (the schedule's, the sensor's, a backfill's or
    one from the UI: Dagster's run status sensors write it, when it starts and when it ends), the
    same record as `recording_refresh` writes. Left as it is when it holds a refresh that started
    later (the last refresh is the one started last), or this run's end already (the sensors that
    see a run start and end tick apart)."""
    current = _last_refresh(warehouse, running=True)
    start_text = started_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    if current is not None and current["outcome"] != "unknown":
        if current["started_at"] > start_text or (current["started_at"] == start_text and outcome == "running"
                                                   and current["outcome"] != "running"):
            return
    _write_record(warehouse, _record(
        started_at=start_text,
        finished_at=finished_at.astimezone(dt.UTC).isoformat(timespec="seconds") if finished_at else None,
        days=sorted({d.isoformat() for d in days}), full=full,
        seconds=round((finished_at - started_at).total_seconds(), 1) if finished_at else None,
        outcome=outcome, error=error, run_id=run_id))


_OUTCOMES = ("running", "succeeded", "failed", "interrupted")
# what a record holds, and what each value may be (null: an older version's record may lack it)
_REQUIRED = ("started_at", "days", "outcome")
_JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null",
               list: "an array", dict: "an object"}
_KINDS = {"started_at": (str,), "finished_at": (str, type(None)), "days": (list,), "full": (bool, type(None)),
          "seconds": (int, float, type(None)), "outcome": (str,), "error": (str, type(None)),
          "pid": (int, type(None)), "run_id": (str, type(None))}


def _last_refresh(warehouse: Path, running: bool) -> dict | None:
    """The refresh record, None when there is none; a record that cannot be read, or is not what a
    refresh writes (edited by hand, another program's file), is shown as such, outcome `unknown`."""
    path, before_its_rename = record_path_for(warehouse), _record_path_before_its_rename(warehouse)
    try:
        if not path.exists() and not path.is_symlink() and before_its_rename.is_file():
            path = before_its_rename
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return None  # a warehouse name too long for a refresh (check_warehouse_name): none ever ran on it
        raise
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except OSError as exc:  # permissions, a folder in its place
        return _unreadable_record(path, exc.strerror or type(exc).__name__)
    except ValueError:  # not JSON, or not UTF-8
        return _unreadable_record(path, "not JSON")
    problem = _record_problem(record)
    if problem:
        return _unreadable_record(path, problem)
    record = {key: record.get(key) for key in _KINDS}
    if record["outcome"] == "running" and record["run_id"] is None \
            and not (running and _may_be_running(record["pid"])):
        # A CLI refresh started and never finished: its process was killed. Its build file keeps what
        # it owes. (The lock held is not enough: a run from Dagster takes it too.) A run from Dagster
        # is not judged by the lock, which it takes step by step: its sensors record its end.
        record["outcome"] = "interrupted"
        record["error"] = record.get("error") or "the refresh stopped before it finished (killed?)"
    return record


def _may_be_running(pid: int | None) -> bool:
    """False once the recorded refresh's process is gone from this machine; True if it is there,
    or cannot be told (no pid recorded, another user's process)."""
    return pid is None or pid <= 0 or not process_gone(pid)


def _record_problem(record) -> str | None:
    """What makes `record` other than a record `recording_refresh` writes; None if nothing."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in _REQUIRED:
        if key not in record:
            return f"it has no {key}"
    for key, allowed in _KINDS.items():
        value = record.get(key)
        if not isinstance(value, allowed) or isinstance(value, bool) and bool not in allowed:
            return f"its {key} is {_JSON_KINDS.get(type(value), 'of another kind')}"
    if record["outcome"] not in _OUTCOMES:
        return f"its outcome {record['outcome']!r} is not one of {', '.join(_OUTCOMES)}"
    try:
        for day in record["days"]:
            dt.date.fromisoformat(day)
        dt.datetime.fromisoformat(record["started_at"])
    except (TypeError, ValueError):
        return "its days or start are not ISO dates"
    return None


def _record(**values) -> dict:
    """A refresh record: every key `_KINDS` lists, in its order, null where not given."""
    unknown = set(values) - set(_KINDS)
    if unknown:
        raise TypeError(f"not keys of a refresh record: {sorted(unknown)}")
    return {key: values.get(key) for key in _KINDS}


def _unreadable_record(path: Path, reason: str) -> dict:
    return _record(days=[], outcome="unknown", error=f"the refresh record {path} cannot be read ({reason})")


def _query(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    try:
        return conn.execute(sql, params or []).fetchall()
    except duckdb.CatalogException:  # a file without these tables yet
        return []


def newest_event_ms(conn: duckdb.DuckDBPyConnection) -> int | None:
    """The instant (epoch milliseconds) of the newest loaded event, None without one; the instants of
    a few export days are read, not the whole history's. An export day holds no event later than the
    end of the day after it (a later one is rejected as occurred_in_future), so once the newest event
    of the latest export day that holds any is known, only the export days from two days before it
    can hold a newer one. Not simply the latest two export days: those may be empty, or hold late
    events only."""
    latest_day = _query(conn, "select max(export_date) from raw.events")
    if not latest_day or latest_day[0][0] is None:
        return None
    candidate_ms = _query(conn, "select epoch_ms(max(occurred_at)) from raw.events where export_date = ?",
                          [latest_day[0][0]])[0][0]
    since = dt.datetime.fromtimestamp(candidate_ms / 1000, dt.UTC).date() - dt.timedelta(days=2)
    return _query(conn, "select epoch_ms(max(occurred_at)) from raw.events where export_date >= ?", [since])[0][0]


def collect_status(warehouse: Path, exports: Path,
                   models_outdated: Callable[[duckdb.DuckDBPyConnection], bool] | None = None,
                   unbuilt_work: Callable[[], dict | None] | None = None) -> dict:
    """The status as one JSON-ready object (keys documented in docs/cli.md). `models_outdated`: the
    caller's question to the open published file (the build stage's, which serve does not import):
    whether its models were built with other seeds or models' revision, which the next refresh
    rebuilds in full; `pending.rebuild_all` is None when not asked. `unbuilt_work`: the build
    stage's answer to what a refresh that did not finish left for the next one ({full_rebuild,
    users, models_outdated: the same question asked of the build file, whose answer wins}, or None
    when it cannot tell); `pending.unbuilt_work` is None when not asked."""
    from ..load.exports import (
        change_times,
        check_files_readable,
        day_folder,
        export_files,
        files_fingerprint,
        is_partition_day,
        loaded_by_older_loader,
        no_exports_folder,
        scan_day_folders,
    )
    from ..load.raw import loaded_export_days
    from ..settings import sensor_settle_seconds
    from .report import check_published_file

    if not warehouse.exists():
        # A first refresh that failed published nothing, but its record says why: the one line does too.
        last = _last_refresh(warehouse, refresh_running(warehouse))
        if last is not None and last.get("outcome") != "succeeded":
            said = f": {last['error']}" if last.get("error") else ""
            raise UserError(f"warehouse file not found: {warehouse}; its last refresh, started "
                            f"{last['started_at'] or '?'}, {last['outcome']}{said}")
    check_published_file(warehouse, exports)
    now = _now()
    stat = warehouse.stat()
    try:
        conn = connect_published(warehouse)
    except duckdb.Error as exc:
        raise UserError(f"cannot open warehouse {warehouse}: {first_line(exc)}") from None
    try:
        loaded = loaded_export_days(conn)
        latest = _query(conn, f"""
            select export_date, lines_read, lines_rejected from marts.data_quality_daily
            order by export_date desc limit {LATEST_DAYS}""")
        newest_ms = newest_event_ms(conn)
        rebuild_all = models_outdated(conn) if models_outdated else None
    finally:
        conn.close()

    unbuilt = unbuilt_work() if unbuilt_work else None  # None while a refresh holds the lock
    if unbuilt is not None:
        # the next refresh asks the build file, which a refresh that built and did not publish left
        # other than the published file
        rebuild_all = unbuilt.pop("models_outdated")
    days = sorted(loaded)
    missing = []
    if days:
        day = days[0]
        while day < days[-1]:
            day += dt.timedelta(days=1)
            if day not in loaded:
                missing.append(day.isoformat())
    # An exports folder or day folder that cannot be read is said in its place: the rest of the status
    # is what an operator needs most then.
    pending, changing, exports_error = [], [], None
    try:
        settle = sensor_settle_seconds()
    except UserError:  # the sensor's own setting: the sensor names it (its definitions do not load)
        settle = None
    try:
        found, misnamed, linked = scan_day_folders(exports)
        exports_error = no_exports_folder(exports)  # why no day is pending, for a script that reads it
        exports_found = exports_error is None
    except LoadError as exc:
        found, misnamed, linked, exports_error = [], [], [], str(exc)
        exports_found = False
        with contextlib.suppress(OSError):  # a folder above it that cannot be searched
            exports_found = exports.is_dir()
    for day in found:
        if not is_partition_day(day):  # refused by a refresh: not work it would do
            pending.append({"export_date": day.isoformat(), "reason": "outside"})
            continue
        try:
            files = export_files(day_folder(exports, day))  # listed once for both
            current = files_fingerprint(files)
            check_files_readable(files)  # a refresh would fail on such a file
        except LoadError:
            pending.append({"export_date": day.isoformat(), "reason": "unreadable"})
            continue
        if day not in loaded:
            pending.append({"export_date": day.isoformat(), "reason": "new"})
        elif current != loaded[day]:
            reason = "older_loader" if loaded_by_older_loader(loaded[day], current) else "redelivered"
            pending.append({"export_date": day.isoformat(), "reason": reason})
        else:
            continue
        # A day whose folder or files changed within the sensor's settle time may still be being
        # delivered: the sensor waits for them to be still (a file gone since it was listed is a
        # change too). A time ahead of this clock tells nothing of when the file changed: the sensor
        # waits such a day out from when it first sees it, which status cannot know.
        if settle is None:
            continue
        now_seconds = time.time()
        try:
            times = change_times(day_folder(exports, day), files)
        except OSError:
            times = [now_seconds]
        if any(now_seconds - settle < t <= now_seconds for t in times):
            changing.append(day.isoformat())
    # A loaded day whose folder is gone (old exports deleted to free the disk) keeps its rows: only a
    # reload of a day replaces them. Unknown (None) when the exports folder cannot be listed.
    listed = exports_error is None
    without_folder = sorted(set(days) - set(found)) if listed else None
    newest_at = dt.datetime.fromtimestamp(newest_ms / 1000, dt.UTC) if newest_ms is not None else None
    running = refresh_running(warehouse)
    latest_days = [{"export_date": d.isoformat(), "lines_read": int(r), "lines_rejected": int(x)}
                   for d, r, x in sorted(latest)]
    return {
        "warehouse": {
            "path": str(warehouse),
            "size_bytes": stat.st_size,
            "published_at": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).isoformat(timespec="seconds"),
        },
        "export_days": {
            "first": days[0].isoformat() if days else None,
            "last": days[-1].isoformat() if days else None,
            "count": len(days),
            "missing": missing,
            "without_folder": None if without_folder is None else [d.isoformat() for d in without_folder],
        },
        "last_refresh": _last_refresh(warehouse, running),
        "refresh_running": running,
        "pending": {"exports": str(exports), "exports_found": exports_found, "exports_error": exports_error,
                    "export_day_folders": len(found),
                    "export_days": pending, "changing": changing, "settle_seconds": settle,
                    "misnamed_folders": misnamed, "linked_folders": linked, "rebuild_all": rebuild_all,
                    "unbuilt_work": unbuilt},
        "rejected_lines": {
            "export_days": latest_days,
            "lines_read": sum(d["lines_read"] for d in latest_days),
            "lines_rejected": sum(d["lines_rejected"] for d in latest_days),
        },
        "newest_event": {
            "occurred_at": newest_at.isoformat(timespec="seconds") if newest_at else None,
            "age_seconds": round((now - newest_at).total_seconds()) if newest_at else None,
        },
    }


def _ranges(days: list[str]) -> str:
    """`2026-11-01 .. 2026-11-03, 2026-11-05` for a sorted list of ISO days."""
    parts: list[list[dt.date]] = []
    for day in (dt.date.fromisoformat(d) for d in days):
        if parts and day == parts[-1][1] + dt.timedelta(days=1):
            parts[-1][1] = day
        else:
            parts.append([day, day])
    return ", ".join(str(a) if a == b else f"{a} .. {b}" for a, b in parts)


def _age(seconds: int) -> str:
    if seconds < 0:
        return "in the future"
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    return (f"{d} d {h} h" if d else f"{h} h {rest // 60} min" if h else f"{rest // 60} min") + " ago"


def format_status(status: dict) -> str:
    wh, days, last = status["warehouse"], status["export_days"], status["last_refresh"]
    lines = [f"warehouse      {wh['path']} ({wh['size_bytes'] / 1e6:,.1f} MB, published {wh['published_at']})"]
    if days["count"]:
        gaps = f"missing between them: {_ranges(days['missing'])}" if days["missing"] else "none missing between"
        lines.append(f"export days    {days['first']} .. {days['last']}: {days['count']} loaded, {gaps}")
        if days["without_folder"]:
            lines.append(f"               loaded, their folder since gone from the exports (rows kept): "
                         f"{_ranges(days['without_folder'])}")
    else:
        lines.append("export days    none loaded")
    if last and last["outcome"] == "unknown":
        lines.append(f"last refresh   unknown: {last['error']}")
    elif last:
        what = f"export days {_ranges(last['days'])}" if last["days"] else "no export day"
        took = f", {last['seconds']:g} s" if last.get("seconds") is not None else ""
        line = (f"last refresh   {last['outcome']}: started {last['started_at']}{took}, {what}"
                + (" (full rebuild)" if last.get("full") else ""))
        if last.get("error"):
            line += f"; {last['error']}"
        lines.append(line)
    else:
        lines.append("last refresh   none recorded (refreshes record themselves from the CLI)")
    if status["refresh_running"]:
        lines.append("               a refresh is running now")
    pending = status["pending"]
    # in the words of the refresh's progress when it does (build/dbt_build.py)
    rebuild = ["every model, which the next refresh rebuilds: the seeds, the user-agent parser or the models' "
               "revision changed since the last build (an upgrade, an edited seed)"] if pending["rebuild_all"] else []
    unbuilt = pending["unbuilt_work"] or {}
    if unbuilt.get("full_rebuild") and not rebuild:
        rebuild = ["every model, which the next refresh rebuilds: a full rebuild was started and did not finish"]
    elif unbuilt.get("users") and not rebuild:
        rebuild = [f"the rows of {unbuilt['users']:,} user(s), which the next refresh recomputes: a refresh loaded "
                   "their events and did not finish"]
    if pending["exports_error"]:
        lines.append("pending        " + "; ".join([*rebuild, f"unknown: {pending['exports_error']}"]))
    elif pending["export_days"] or pending["misnamed_folders"] or pending["linked_folders"] or rebuild:
        by_reason = {}
        for p in pending["export_days"]:
            by_reason.setdefault(p["reason"], []).append(p["export_date"])
        parts = [*rebuild, *(f"{_REASON_SHOWN.get(reason, reason)}: {_ranges(d)}" for reason, d in by_reason.items())]
        if pending["misnamed_folders"]:
            parts.append(f"{MISNAMED_DAY_FOLDERS} (not read): "
                         + ", ".join(map(spaces_shown, pending["misnamed_folders"])))
        if pending["linked_folders"]:
            parts.append("day folders that are symbolic links (not read; copy the folder in): "
                         + ", ".join(map(spaces_shown, pending["linked_folders"])))
        lines.append("pending        " + "; ".join(parts))
        if pending["changing"]:
            lines.append(f"               still changing: {_ranges(pending['changing'])} (changed in the last "
                         f"{pending['settle_seconds']:g} s: a delivery under way? The sensor waits until the files "
                         "are still)")
    elif not pending["export_day_folders"]:
        lines.append(f"pending        nothing: no export day folder (dt=YYYY-MM-DD) in {pending['exports']}")
    else:
        lines.append("pending        nothing: every export day folder is loaded as delivered")
    rej = status["rejected_lines"]
    if rej["export_days"]:
        worst = [f"{d['export_date']}: {d['lines_rejected']:,}" for d in rej["export_days"] if d["lines_rejected"]]
        days = len(rej["export_days"])
        latest = f"the latest {days} export days" if days > 1 else "the one export day"
        lines.append(f"rejected lines {rej['lines_rejected']:,} of {rej['lines_read']:,} on {latest}"
                     + (f" ({', '.join(worst)})" if worst else ""))
    newest = status["newest_event"]
    if newest["occurred_at"]:
        lines.append(f"newest event   {newest['occurred_at']} ({_age(newest['age_seconds'])})")
    # paths and folder names as they can sit in a line: a name may hold a line break or an escape
    return "\n".join(one_line(line) for line in lines)
