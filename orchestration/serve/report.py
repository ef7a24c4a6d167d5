"""The report of interfaces.md, read from the marts with SQL alone: every KPI and ratio is computed
by DuckDB (the queries in serve/queries/); Python only arranges their rows into the JSON shape.
The dashboard draws what `build_report` returns.

A chat is in the period when its local start date is; a user is active when they have such a chat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from ..errors import ReportError, UserError, first_line, one_line
from ..publish.publish import check_duckdb_file, connect_published, refresh_running
from . import queries


@dataclass(frozen=True)
class ReportParams:
    assistant: str
    date_from: dt.date
    date_to: dt.date
    channel: str | None = None

    def sql(self) -> dict:
        return {"assistant": self.assistant, "date_from": self.date_from, "date_to": self.date_to,
                "channel": self.channel}


_THE_PUBLISHED_FILE = "give the path of the warehouse that a refresh publishes"


def build_command(warehouse: Path, exports: Path | None = None, *, rebuild: str = "--all") -> str:
    """The refresh that builds `warehouse` from every export day (`rebuild="--full"`: builds every
    model again): it names the warehouse and the exports folder the command was given, unless they
    are the default ones."""
    from ..settings import exports_option, warehouse_option

    return f"assistant-analytics refresh {rebuild}{warehouse_option(warehouse)}{exports_option(exports)}"


def outdated_warehouse_error(warehouse: Path, exports: Path | None, exc: duckdb.Error | str) -> ReportError:
    """A query that names a mart or column the warehouse lacks: a file an older version built (the
    queries bind values as parameters, so nothing a user gives makes such an error). `exc`: DuckDB's
    error, or what is lacking."""
    lacks = exc if isinstance(exc, str) else first_line(exc)
    return ReportError(f"the warehouse {warehouse} lacks what this version reads ({lacks}); "
                       f"run `{build_command(warehouse, exports, rebuild='--full')}` once")


@contextlib.contextmanager
def reading_warehouse(warehouse: Path, exports: Path | None = None) -> Iterator[None]:
    """A query on the published file that DuckDB fails (a damaged block, an I/O error: the errors a
    command expects are UserErrors already) is one line naming the file, not a traceback. The next
    publish writes every block that differs from the build file, so any refresh mends the file. A
    mart or column the file lacks (an older version built it) is one line whose hint rebuilds it
    from `exports`, the exports folder the command was given."""
    try:
        yield
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        raise outdated_warehouse_error(warehouse, exports, exc) from None
    except duckdb.OutOfMemoryException as exc:  # the process's memory, not the file
        raise UserError(f"out of memory reading the warehouse {warehouse}: {first_line(exc)}") from None
    except duckdb.Error as exc:
        first = first_line(exc)
        raise UserError(f"cannot read the warehouse {warehouse}: {first} (a damaged file is written anew by "
                        "the next refresh's publish)") from None


def check_published_file(warehouse: Path, exports: Path | None = None) -> None:
    """The published warehouse is a DuckDB file that exists; else one line (report, export, status,
    dashboard), whose hint builds it from `exports`, the exports folder the command was given."""
    if warehouse.is_dir():
        raise ReportError(f"the warehouse {warehouse} is a directory: give the path of a DuckDB file")
    if not warehouse.is_file():
        if refresh_running(warehouse):  # its first refresh: the file comes when that one publishes
            raise ReportError(f"warehouse file not found: {warehouse} (a refresh of it is running; "
                              "its file comes when that refresh publishes)")
        raise ReportError(f"warehouse file not found: {warehouse} "
                          f"(build it first: `{build_command(warehouse, exports)}`)")
    check_duckdb_file(warehouse, error=ReportError, if_empty=_THE_PUBLISHED_FILE, otherwise=_THE_PUBLISHED_FILE)


def connect_read_only(warehouse: Path, exports: Path | None = None) -> duckdb.DuckDBPyConnection:
    check_published_file(warehouse, exports)
    try:
        # No Python replacement scans: a table the file lacks must be a catalog error, not a
        # Python variable of the same name found in the caller's frame.
        conn = connect_published(warehouse, config={"python_enable_replacements": False})
    except duckdb.Error as exc:
        raise ReportError(f"cannot open warehouse {warehouse}: {exc}") from None
    if not conn.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()[0]:
        conn.close()
        raise ReportError(f"the warehouse {warehouse} has no marts yet (build it: "
                          f"`{build_command(warehouse, exports)}`)")
    # no progress bar: DuckDB draws one on stdout for a query that runs long, into the JSON
    conn.execute("set enable_progress_bar = false")
    # instants written as text (an export's CSV) in UTC, not in the time zone of the machine that
    # happens to run the command: the same file everywhere
    conn.execute("set TimeZone = 'UTC'")
    return conn


def run_query(conn: duckdb.DuckDBPyConnection, sql: str, params: ReportParams) -> list[dict]:
    """The rows of a report query (queries.read(name), queries.report_sql()) for these filters, as
    dicts; the query gets the parameters it names."""
    values = {**params.sql(), "prev_from": previous_period(params)[0]}
    conn.execute(queries.read("ratio"))  # the ratio_6 macro, a temporary one: the file is read-only
    # a mart or column an older version's warehouse lacks: outdated_warehouse_error, by the caller
    cur = conn.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _num(x):
    # DuckDB returns DECIMAL/HUGEINT for sums; JSON wants plain numbers.
    if x is None:
        return None
    f = float(x)
    return int(f) if f.is_integer() and not isinstance(x, float) else f


def assistant_timezone(conn, assistant: str) -> str:
    row = conn.execute("select timezone from marts.dim_assistants where assistant_id = ?", [assistant]).fetchall()
    row = row[0] if row else None
    if row is None:
        known = [r[0] for r in conn.execute("select assistant_id from marts.dim_assistants order by 1").fetchall()]
        raise _unknown("assistant", assistant, known, " in seeds/assistants.csv or the exports")
    return row[0]


def _unknown(what: str, value: str, valid: list[str], where: str = "") -> ReportError:
    """`unknown channel 'Web' (did you mean 'web'? ...); channels of x: voice, web`: a hint when
    only the case or spaces around the name differ (a name pasted with a space after it), the
    name that differs only by spaces first."""
    near = sorted((v for v in valid if v.strip().casefold() == value.strip().casefold()),
                  key=lambda v: v.strip() != value.strip())
    hint = ""
    if near:
        why = [text for text, differs in (("names are case-sensitive", near[0].strip() != value.strip()),
                                          ("spaces count", near[0].casefold() != value.casefold())) if differs]
        hint = f" (did you mean {near[0]!r}? {'; '.join(why)})"
    shown = ", ".join(valid[:20]) + (f", ... ({len(valid)} in all)" if len(valid) > 20 else "")
    return ReportError(f"unknown {what} {value!r}{hint}; {what}s{where}: {shown or 'none'}")


def known_channels(conn: duckdb.DuckDBPyConnection, assistant: str | None) -> list[str]:
    """The channels an assistant has data in (any assistant's when None), and those of seeds/channels.csv."""
    rows = conn.execute(
        "select distinct channel from marts.fct_engagement where $assistant is null or assistant_id = $assistant",
        {"assistant": assistant}).fetchall()
    channels = {r[0] for r in rows}
    with contextlib.suppress(duckdb.CatalogException):  # the seed table, built by dbt beside raw
        channels |= {r[0] for r in conn.execute("select channel from raw.channels").fetchall()}
    return sorted(channels)


def validate_filters(conn: duckdb.DuckDBPyConnection, *, assistant: str | None = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None,
                     channel: str | None = None) -> str | None:
    """The one check of the filters that `report` and `export` take (None: not given); raises
    ReportError naming what would have been valid. Returns the assistant's time zone (None
    without an assistant): checking the assistant is looking it up."""
    if date_from and date_to and date_from > date_to:
        raise ReportError(f"--from {date_from} is after --to {date_to}")
    timezone = assistant_timezone(conn, assistant) if assistant is not None else None
    if channel is not None:
        valid = known_channels(conn, assistant)
        if channel not in valid:
            raise _unknown("channel", channel, valid, f" of {assistant}" if assistant else "")
    return timezone


class LoadedDayRange(NamedTuple):
    """The first and the newest loaded export day (both None before any is loaded)."""
    first: dt.date | None
    newest: dt.date | None


def loaded_day_range(conn: duckdb.DuckDBPyConnection) -> LoadedDayRange:
    """Read once per page or command, for every note that needs them."""
    return LoadedDayRange(*conn.execute(
        "select min(export_date), max(export_date) from marts.data_quality_daily").fetchall()[0])


def period_notice(conn: duckdb.DuckDBPyConnection, *, assistant: str | None = None,
                  date_from: dt.date | None = None, date_to: dt.date | None = None,
                  channel: str | None = None, loaded: LoadedDayRange | None = None) -> str | None:
    """One line for stderr when the period has no data at all, or reaches past the newest loaded
    export day (its last days are then empty or incomplete); None when there is nothing to say.
    `loaded`: the loaded day range, when the caller has read it already."""
    return _period_notice_and_data(conn, loaded, assistant, date_from, date_to, channel)[0]


class ReportNotes(NamedTuple):
    lines: list[str]  # for stderr, in this order
    has_data: bool  # False: `lines` is the one line that says the period has none


def report_notices(conn: duckdb.DuckDBPyConnection, params: ReportParams) -> ReportNotes:
    """The report's lines for stderr: the period's (period_notice), then the previous period's
    (previous_period_notice), unless the period holds no data at all: the one line that says so is
    then the report's only note (interfaces.md), as there is no change to read against it."""
    loaded = loaded_day_range(conn)
    notice, has_data = _period_notice_and_data(conn, loaded, params.assistant, params.date_from, params.date_to,
                                               params.channel)
    if not has_data:
        return ReportNotes([notice], False)
    early = _begins_before_first_day("the period", params.date_from, params.date_to, loaded.first)
    unseeded = not_in_seed_notice(conn, params.assistant)
    previous = previous_period_notice(params, loaded.first)
    return ReportNotes([line for line in (notice, early, unseeded, previous) if line], True)


def _begins_before_first_day(which: str, date_from: dt.date, date_to: dt.date, first: dt.date | None) -> str | None:
    """The note on a period (the report's, or its previous one) that begins before the first loaded
    export day: a demo of 3 days read over the last 7, a warehouse whose history starts in it."""
    if first is None or date_from >= first:
        return None
    return (f"{which} {date_from} .. {date_to} begins before the first loaded export day ({first}): "
            "its earlier days are empty or incomplete")


def not_in_seed_notice(conn: duckdb.DuckDBPyConnection, assistant: str) -> str | None:
    """One line for stderr when the assistant is in the exports but not in seeds/assistants.csv: its
    report is in UTC (interfaces.md), which its `timezone` shows but does not explain."""
    rows = conn.execute("select is_in_seed from marts.dim_assistants where assistant_id = ?", [assistant]).fetchall()
    if not rows or rows[0][0]:
        return None
    return (f"assistant {assistant} is not in seeds/assistants.csv: its local dates and hours are UTC's "
            "(add it with its time zone, then refresh)")


def _period_notice_and_data(conn: duckdb.DuckDBPyConnection, loaded: LoadedDayRange | None, assistant: str | None,
                            date_from: dt.date | None, date_to: dt.date | None,
                            channel: str | None) -> tuple[str | None, bool]:
    """period_notice's line, and whether the period holds any data."""
    if date_from is None and date_to is None:  # a whole mart: no period to say anything of
        return None, True
    first, newest = loaded or loaded_day_range(conn)
    if newest is None:
        return "no export day is loaded yet: the warehouse holds no data", False
    period = f"{date_from or '...'} .. {date_to or '...'}"
    filters = {"assistant": assistant, "date_from": date_from, "date_to": date_to, "channel": channel}
    in_period = """
        ($assistant is null or assistant_id = $assistant) and ($channel is null or channel = $channel)
        and ($date_from is null or {col} >= $date_from) and ($date_to is null or {col} <= $date_to)"""
    has_data = conn.execute(f"""
        select exists (select 1 from marts.fct_chats where {in_period.format(col='chat_local_date')})
            or exists (select 1 from marts.fct_traffic where {in_period.format(col='local_date')})""",
        filters).fetchall()[0][0]
    # A period that starts after the newest export day may still hold data: a local date runs ahead
    # of its UTC export day for an assistant east of UTC (the evening of that day, there).
    if not has_data and date_from and date_from > newest:
        return f"no data: the period {period} starts after the newest loaded export day ({newest})", False
    if not has_data:
        who = " for " + ", ".join(f"{k} {v}" for k, v in (("assistant", assistant), ("channel", channel)) if v) \
            if assistant or channel else ""
        return f"no data{who} in the period {period} (loaded export days: {first} .. {newest})", False
    if date_to is not None and date_to > newest:
        return (f"the period {period} reaches past the newest loaded export day ({newest}): "
                "its later days are empty or incomplete"), True
    if date_to is not None and assistant is not None:
        # West of UTC the local date of the newest export day runs on after that UTC day ends: its
        # evening is not loaded yet, and the period's numbers fall for want of it.
        timezone = assistant_timezone(conn, assistant)  # checked by the callers' filters already
        complete = last_complete_local_day(newest, timezone)
        if complete is not None and date_to > complete:
            ends = _export_day_end(newest).astimezone(ZoneInfo(timezone))
            return (f"the period {period} ends on a day the loaded export days hold only in part: the newest "
                    f"({newest}, a UTC day) ends at {ends:%H:%M} on {ends:%Y-%m-%d} in {timezone}, so the "
                    "hours after it are empty or incomplete"), True
    return None, True


def _export_day_end(export_day: dt.date) -> dt.datetime:
    return dt.datetime.combine(export_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def last_complete_local_day(newest_export_day: dt.date, timezone: str) -> dt.date | None:
    """The last local day (in `timezone`) that ends by the end of the newest loaded export day (UTC):
    the export days loaded so far hold every event of it, bar late ones. None if it cannot be told."""
    try:
        return _export_day_end(newest_export_day).astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)
    except (OverflowError, ValueError, ZoneInfoNotFoundError):
        return None


def window_not_elapsed(window_days: int | None, date_to: dt.date, last_complete_day: dt.date | None) -> str | None:
    """Why the dashboard shows no change for a retention number, or None: it counts returns within
    `window_days` after each cohort user's first chat (metrics.toml `window_days`), and for the
    users whose first chat is on the period's last days those days are not all loaded yet (the
    previous period's users had them), so the change would show a fall that is only time."""
    if window_days is None:
        return None
    if last_complete_day is not None and date_to + dt.timedelta(days=window_days) <= last_complete_day:
        return None
    return (f"this period's new users have not all had {window_days} days to return yet (the loaded export days "
            f"hold local days up to {last_complete_day or 'none'})")


def previous_begins_before_loaded_days(params: ReportParams, first: dt.date | None) -> dt.date | None:
    """The first loaded export day when the previous period begins before it (its first days hold
    nothing because nothing was loaded: a change against it is not like for like; kpis.md's
    `previous` is still those n days, as defined), else None. The report's note and the
    dashboard's changes both follow it. Export days are UTC days and the period's are local
    dates: west of UTC the local date before the first export day holds that day's first hours
    (incomplete, not empty); east of UTC the first export day's local date lacks its first hours,
    which this does not flag (it matters only in the first days of a warehouse's history)."""
    return first if first is not None and previous_period(params)[0] < first else None


def previous_period_notice(params: ReportParams, first: dt.date | None) -> str | None:
    """One line for stderr when the previous period begins before the first loaded export day."""
    line = _begins_before_first_day("the previous period", *previous_period(params), first)
    return line and f"{line}, so a change against it is not like for like"


def previous_period(params: ReportParams) -> tuple[dt.date, dt.date]:
    """kpis.md "Previous period": the n days just before `from`, for a period of n days. A period
    whose previous one would begin before the calendar's first day (year 1) has none: an error."""
    days = (params.date_to - params.date_from).days + 1
    if (params.date_from - dt.date.min).days < days:
        raise ReportError(f"the period {params.date_from} .. {params.date_to} has no previous period of "
                          f"{days} days (it would begin before {dt.date.min}): give a later --from or a shorter period")
    return params.date_from - dt.timedelta(days=days), params.date_from - dt.timedelta(days=1)


def _nums(row: dict) -> dict:
    return {k: _num(v) if k not in _KEY_FIELDS else v for k, v in row.items()}


# Fields of the report's breakdown rows that are labels, not numbers
_KEY_FIELDS = {"date", "device_type", "browser", "click_type", "title", "destination_type", "destination",
               "agent_id", "name", "kind"}


def _modules(row: dict) -> dict:
    """Every module object of one period, from its row of report.sql."""
    n = {k: _num(v) for k, v in row.items() if not isinstance(v, list)}
    return {
        "users": {"total": n["users_total"], "new": n["users_new"], "returning": n["users_returning"],
                  "by_device": [_nums(r) for r in row["by_device"]]},
        "messages": {"user_messages": n["user_messages"], "per_user": n["messages_per_user"],
                     "per_chat": n["messages_per_chat"]},
        "chats": {"total": n["chats_total"], "avg_duration_seconds": n["chats_avg_duration_seconds"],
                  "per_user": n["chats_per_user"]},
        "handover": {
            "requests": n["handover_requests"], "rate": n["handover_rate"],
            "chats_with_requests": n["chats_with_requests"],
            "chats_without_requests": n["chats_without_requests"],
            "by_trigger": {"direct": n["direct"], "after_fallback": n["after_fallback"],
                           "operator_button": n["operator_button"]},
            "by_mode": {"human_takeover": n["human_takeover"], "ticket": n["ticket"]},
        },
        "engagement": {"new_users": n["users_new"], "returning_users": n["users_returning"],
                       "returning_rate": n["returning_rate"]},
        "feedback": {
            "reviewable": n["reviewable"], "positive": n["positive"], "negative": n["negative"],
            "no_feedback": n["no_feedback"],
            "chats_by_class": {
                "only_positive": n["only_positive"], "more_positive": n["more_positive"],
                "balanced": n["balanced"], "more_negative": n["more_negative"],
                "only_negative": n["only_negative"], "no_feedback": n["no_feedback_chats"],
            },
        },
        "csat": {"votes": n["csat_votes"], "score": n["csat_score"],
                 "distribution": {str(s): n[f"s{s}"] for s in range(1, 6)}},
        "traffic": {"cells": [_nums(r) for r in row["traffic_cells"]]},
        "clicks": {"rows": [_nums(r) for r in row["click_rows"]]},
        "agents": {"rows": [_nums(r) for r in row["agent_rows"]]},
        "outcomes": {k: n[k] for k in ("resolved", "abandoned", "escalated", "containment_rate",
                                       "resolution_rate", "abandonment_rate", "escalation_rate")},
        "answers": {k: n[k] for k in ("answers", "fallbacks", "fallback_rate", "chats_with_fallback")},
        "retention": {"cohort": n["retention_cohort"], "returned_7d": n["returned_7d"],
                      "returned_30d": n["returned_30d"], "rate_7d": n["rate_7d"], "rate_30d": n["rate_30d"]},
    }


def build_report(conn: duckdb.DuckDBPyConnection, params: ReportParams, *, timezone: str | None = None) -> dict:
    """The report of interfaces.md. `timezone`: the assistant's, when the caller has checked the
    filters with validate_filters already (which returned it); else they are checked here."""
    if timezone is None:
        timezone = validate_filters(conn, assistant=params.assistant, date_from=params.date_from,
                                    date_to=params.date_to, channel=params.channel)
    # One query for both periods: its first row is the period's, its second the previous one's.
    current, previous = run_query(conn, queries.report_sql(), params)
    previous_from, previous_to = previous_period(params)
    return {
        "assistant_id": params.assistant,
        "timezone": timezone,
        "from": params.date_from.isoformat(),
        "to": params.date_to.isoformat(),
        "channel": params.channel,
        **_modules(current),
        "daily": [_nums(r) for r in current["daily"]],
        "previous": {"from": previous_from.isoformat(), "to": previous_to.isoformat(), **_modules(previous)},
    }


def data_quality_summary(conn: duckdb.DuckDBPyConnection, params: ReportParams) -> dict:
    """Lines rejected and duplicates dropped on the export days of the period (all assistants)."""
    return {k: _num(v) for k, v in run_query(conn, queries.read("data_quality"), params)[0].items()}


def printable_text(text: str | None) -> str | None:
    """A text of the data (a title, an agent's name) as it can sit in one row of the report's
    table: errors.one_line, None kept."""
    return None if text is None else one_line(text)


def _cells(ch: str) -> int:
    """Columns a character takes in a terminal: two for the wide ones (CJK), none for a combining mark."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cut(text: str, columns: int) -> str:
    """The start of `text` that fits in `columns` terminal columns."""
    used = 0
    for i, ch in enumerate(text):
        used += _cells(ch)
        if used > columns:
            return text[:i]
    return text


def _pad(text: str, columns: int) -> str:
    """`text` followed by spaces up to `columns` terminal columns (as `:<` pads ASCII)."""
    return text + " " * max(0, columns - sum(map(_cells, text)))


def format_table(report: dict, quality: dict | None = None) -> str:
    """A readable summary of the report for a terminal."""
    r = report
    lines = [
        f"Assistant {printable_text(r['assistant_id'])} ({r['timezone']}), {r['from']} to {r['to']}"
        + (f", channel {printable_text(r['channel'])}" if r["channel"] else ", all channels"),
        "",
    ]

    def fmt(v):
        return "-" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}")

    def row(label, value):
        lines.append(f"  {_pad(label, 34)}{fmt(value):>14}")

    sections = [
        ("Users", [("active users", r["users"]["total"]), ("new", r["users"]["new"]),
                   ("returning", r["users"]["returning"])]),
        ("Messages", [("user messages", r["messages"]["user_messages"]),
                      ("per user", r["messages"]["per_user"]), ("per chat", r["messages"]["per_chat"])]),
        ("Chats", [("chats", r["chats"]["total"]),
                   ("average duration (s)", r["chats"]["avg_duration_seconds"]),
                   ("per user", r["chats"]["per_user"])]),
        ("Handover", [("requests", r["handover"]["requests"]), ("rate", r["handover"]["rate"]),
                      ("chats with requests", r["handover"]["chats_with_requests"]),
                      ("chats without requests", r["handover"]["chats_without_requests"])]
         + [(f"trigger: {k}", v) for k, v in r["handover"]["by_trigger"].items()]
         + [(f"mode: {k}", v) for k, v in r["handover"]["by_mode"].items()]),
        ("Engagement", [("returning rate", r["engagement"]["returning_rate"])]),
        ("Feedback", [(k, r["feedback"][k]) for k in ("reviewable", "positive", "negative", "no_feedback")]
         + [(f"chats {k}", v) for k, v in r["feedback"]["chats_by_class"].items()]),
        ("CSAT", [("votes", r["csat"]["votes"]), ("score", r["csat"]["score"])]
         + [(f"score {k}", v) for k, v in r["csat"]["distribution"].items()]),
        ("Outcomes", [(k.replace("_", " "), v) for k, v in r["outcomes"].items()]),
        ("Answers", [(k.replace("_", " "), v) for k, v in r["answers"].items()]),
        ("Retention of new users", [(k.replace("_", " "), v) for k, v in r["retention"].items()]),
    ]
    for title, rows in sections:
        lines.append(title)
        for label, value in rows:
            row(label, value)
    lines.append("Users by device")
    for d in r["users"]["by_device"][:10]:
        row(f"{printable_text(d['device_type'])} / {printable_text(d['browser']) or '-'}", d["users"])
    busiest = sorted(r["traffic"]["cells"], key=lambda c: -c["messages"])[:3]
    lines.append("Traffic (busiest local hours)")
    days = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    for c in busiest:
        row(f"{days[c['weekday']]} {c['hour']:02d}:00", c["messages"])
    lines.append("Clicks (top 5)")
    for c in r["clicks"]["rows"][:5]:
        row(_cut(f"{c['click_type']}: {printable_text(c['title'])}", 34), c["clicks"])
    lines.append("Agents / workflows (views, +, -)")
    for a in r["agents"]["rows"]:
        lines.append(f"  {_pad(_cut(printable_text(a['name'] or a['agent_id']), 26), 26)} {_pad(a['kind'] or '-', 9)}"
                     f"{a['views']:>9,} {a['positive']:>6,} {a['negative']:>6,}")
    lines.append("Daily (users, new, chats, user messages, handover requests, escalated, fallbacks, csat votes)")
    for d in r["daily"]:
        lines.append(f"  {d['date']}  " + " ".join(
            f"{d[k]:>8,}" for k in ("users", "new_users", "chats", "user_messages", "handover_requests",
                                    "escalated_chats", "fallbacks", "csat_votes")))
    p = r["previous"]
    lines.append(f"Previous period {p['from']} to {p['to']}")
    for label, value in [("active users", p["users"]["total"]), ("chats", p["chats"]["total"]),
                         ("user messages", p["messages"]["user_messages"]),
                         ("handover requests", p["handover"]["requests"]), ("csat score", p["csat"]["score"]),
                         ("resolution rate", p["outcomes"]["resolution_rate"]),
                         ("fallback rate", p["answers"]["fallback_rate"]),
                         ("retention rate 7d", p["retention"]["rate_7d"])]:
        row(label, value)
    if quality and quality.get("lines_rejected"):
        lines.append("")
        lines.append(
            f"Data quality: {quality['lines_rejected']:,} of {quality['lines_read']:,} lines rejected on the "
            f"period's {quality['export_days']} export days (see raw.rejected_lines)"
        )
    return "\n".join(lines)
