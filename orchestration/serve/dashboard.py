"""The platform's Analytics section in a browser: `assistant-analytics dashboard` (Streamlit).

Every number on the page comes from `report.build_report`, the function behind
`assistant-analytics report`: the modules, the daily trend points (`report["daily"]`) and the
previous period (`report["previous"]`). Python here only picks filters, lays the numbers out and
draws them: no KPI is computed a second time. The one arithmetic is a metric's change against
the previous period, the difference of two report values. Section titles, captions, metric
labels and help texts come from serve/queries/metrics.toml, beside the report's SQL.

The DuckDB file is opened read-only at the start of each rerun and closed before anything is
drawn, so the page never holds it open and a refresh that atomically replaces the file shows up
on the next rerun (any widget change, or the sidebar's "Reload" button).
Warehouse: the `--warehouse PATH` script argument the CLI passes (`streamlit run ... -- --warehouse
PATH`); the page run by hand, $ANALYTICS_WAREHOUSE, else data/warehouse.duckdb.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from orchestration.errors import UserError
from orchestration.serve import queries
from orchestration.serve.report import (
    ReportParams,
    build_command,
    build_report,
    connect_read_only,
    data_quality_summary,
    last_complete_local_day,
    loaded_day_range,
    not_in_seed_notice,
    period_notice,
    previous_begins_before_loaded_days,
    reading_warehouse,
    window_not_elapsed,
)
from orchestration.settings import default_warehouse

PRESETS = ["Last 7 days", "Last 30 days", "This month", "Custom"]
# How each preset is written in the page's URL (?period=...)
PERIOD_IN_URL = {"Last 7 days": "last-7-days", "Last 30 days": "last-30-days", "This month": "this-month",
                 "Custom": "custom"}
ALL_CHANNELS = "All channels"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
NONE = "—"
# The date pickers' range, and what a date in the URL must fall in
DATE_MIN, DATE_MAX = dt.date(1970, 1, 1), dt.date.max


@dataclass
class View:
    """Everything one rerun read from the warehouse; the file is closed once this exists."""

    warehouse: Path
    modified: dt.datetime
    assistant_name: str
    params: ReportParams
    newest_chat: str | None  # as DuckDB gave it: a date after 9999-12-31 has no Python date
    report: dict
    daily: pd.DataFrame  # report["daily"], its dates as timestamps for the charts
    quality: dict
    notice: str | None  # `report`'s line on stderr about the period: no data, or not wholly loaded
    unseeded: str | None  # `report`'s line when the assistant is not in seeds/assistants.csv (its dates are UTC's)
    # the period ends after the newest loaded export day, or on a local day it holds only in part
    reaches_past: bool
    # the assistant's last local day that the loaded export days hold whole (None: none loaded)
    last_complete_day: dt.date | None
    # the first loaded export day when the previous period begins before it (its first days never loaded)
    previous_begins_before: dt.date | None


# ------------------------------------------------------------------------------------------
# Reading (the only part that touches the file)
# ------------------------------------------------------------------------------------------


def as_date(value) -> dt.date | None:
    """A date from DuckDB as a Python date, or None: DuckDB returns a date Python cannot hold
    (after 9999-12-31, or BC) as text, and such a date cannot anchor a period."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def default_period_end(newest_chat: dt.date | None, complete: dt.date | None) -> dt.date:
    """Where the presets end: the assistant's newest chat's local date, unless that day is not
    complete yet (after the last local day the loaded export days cover), then that last complete
    day. A chat dated far in the future (a device clock) thus does not move the default period."""
    if newest_chat is not None and complete is not None:
        return min(newest_chat, complete)
    return newest_chat or complete or dt.date.today()


def _preset_range(preset: str, end: dt.date) -> tuple[dt.date, dt.date]:
    days = {"Last 7 days": 7, "Last 30 days": 30}.get(preset)
    if days is not None:
        return max(end - dt.timedelta(days=days - 1), DATE_MIN), end
    return end.replace(day=1), end  # "This month" (of the period's last day)


def _url_dates() -> tuple[dt.date, dt.date] | None:
    try:
        date_from = dt.date.fromisoformat(st.query_params.get("from", ""))
        date_to = dt.date.fromisoformat(st.query_params.get("to", ""))
    except ValueError:
        return None
    if not DATE_MIN <= date_from <= date_to <= DATE_MAX:
        return None
    return date_from, date_to


def _filters_from_url(assistants: list[str]) -> None:
    """On a session's first run the filters start from the URL (?assistant=&channel=&period=&from=&to=),
    so a view can be linked. A value that is unknown or malformed is ignored: its default is used."""
    if st.session_state.get("url_read"):
        return
    st.session_state["url_read"] = True
    if st.query_params.get("assistant") in assistants:
        st.session_state["assistant"] = st.query_params["assistant"]
    st.session_state["url_channel"] = st.query_params.get("channel")
    presets = {slug: preset for preset, slug in PERIOD_IN_URL.items()}
    preset = presets.get(st.query_params.get("period", "custom" if "from" in st.query_params else ""))
    dates = _url_dates()
    if preset == "Custom" and dates is None:
        preset = None  # a custom period needs a valid from and to
    if preset:
        st.session_state["preset"] = preset
    if preset == "Custom":
        st.session_state["dates"] = dates


def _filters_to_url(params: ReportParams, preset: str) -> None:
    url = {"assistant": params.assistant}
    if params.channel:
        url["channel"] = params.channel
    url["period"] = PERIOD_IN_URL[preset]
    if preset == "Custom":
        url.update({"from": params.date_from.isoformat(), "to": params.date_to.isoformat()})
    if st.query_params.to_dict() != url:
        st.query_params.from_dict(url)


def _sidebar_filters(conn: duckdb.DuckDBPyConnection,
                     export_day: dt.date | None) -> tuple[ReportParams, str, str | None]:
    """Draws the filters (their choices come from the marts) and returns the report parameters;
    `export_day`: the newest loaded export day."""
    assistants = conn.execute(
        "select assistant_id, coalesce(assistant_name, assistant_id), timezone from marts.dim_assistants "
        "order by assistant_id"
    ).fetchall()
    if not assistants:
        st.warning("The warehouse knows no assistant yet (marts.dim_assistants is empty).")
        st.stop()
    names = {a: name for a, name, _ in assistants}
    timezones = {a: tz for a, _, tz in assistants}
    _filters_from_url(list(names))
    sb = st.sidebar
    sb.header("Filters")
    assistant = sb.selectbox("Assistant", list(names), key="assistant",
                             format_func=lambda a: f"{names[a]} ({a})" if names[a] != a else a)

    channels = [r[0] for r in conn.execute(
        "select distinct channel from marts.fct_chats where assistant_id = ? order by channel", [assistant]
    ).fetchall()]
    options = [ALL_CHANNELS, *channels]
    url_channel = st.session_state.pop("url_channel", None)
    if url_channel in channels:
        st.session_state["channel"] = url_channel
    if st.session_state.get("channel") not in options:  # the previous assistant's channel
        st.session_state["channel"] = ALL_CHANNELS
    channel = sb.selectbox("Channel", options, key="channel")

    newest_raw = conn.execute("select max(chat_local_date) from marts.fct_chats where assistant_id = ?",
                              [assistant]).fetchone()[0]
    newest = as_date(newest_raw)
    complete = last_complete_local_day(export_day, timezones[assistant] or "UTC") if export_day else None
    # clamped to the date pickers' range: a chat dated 0001-01-01 must not break the page either
    end = min(max(default_period_end(newest, complete), DATE_MIN), DATE_MAX)
    why = ("its newest chat" if end == newest else
           f"the last local day wholly in the loaded export days (newest {export_day}, UTC)" if end == complete
           else "today: no chats")
    preset = sb.radio("Period", PRESETS, key="preset",
                      help=f"The presets end on {end:%Y-%m-%d}, {why}. Newest chat of the assistant: "
                           f"{newest_raw or 'none'}.")
    if preset == "Custom":
        if "dates" not in st.session_state:
            st.session_state["dates"] = st.session_state.get("last_range") or _preset_range("Last 7 days", end)
        picked = sb.date_input("From / to (local dates, both included)", key="dates", format="YYYY-MM-DD",
                               min_value=DATE_MIN, max_value=DATE_MAX)
        if not isinstance(picked, (tuple, list)) or len(picked) != 2:
            sb.info("Pick the last day of the period.")
            st.info("Pick the last day of the period in the sidebar.")
            st.stop()
        date_from, date_to = picked
        if date_from > date_to:
            st.title("Analytics")
            st.error(f"The period's first day ({date_from:%Y-%m-%d}) is after its last day ({date_to:%Y-%m-%d}): "
                     "pick the two days again in the sidebar.")
            st.stop()
    else:
        date_from, date_to = _preset_range(preset, end)
        sb.caption(f"{date_from:%a %Y-%m-%d} to {date_to:%a %Y-%m-%d}")
    st.session_state["last_range"] = (date_from, date_to)
    sb.button("Reload", key="reload", help="Read the warehouse file again (e.g. after a refresh).")
    params = ReportParams(assistant, date_from, date_to, None if channel == ALL_CHANNELS else channel)
    _filters_to_url(params, preset)
    return params, names[assistant], None if newest_raw is None else str(newest_raw)


def _read(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> View:
    loaded = loaded_day_range(conn)
    export_day = loaded.newest
    params, name, newest = _sidebar_filters(conn, export_day)
    report = build_report(conn, params)
    daily = pd.DataFrame(report["daily"])
    daily["date"] = pd.to_datetime(daily["date"])
    quality = data_quality_summary(conn, params)
    notice = period_notice(conn, assistant=params.assistant, date_from=params.date_from, date_to=params.date_to,
                           channel=params.channel, loaded=loaded)
    # the period's last local day is not wholly loaded (as period_notice tells)
    complete = last_complete_local_day(export_day, report["timezone"]) if export_day else None
    reaches_past = export_day is not None and params.date_to > (complete or export_day)
    return View(warehouse, dt.datetime.fromtimestamp(warehouse.stat().st_mtime), name, params, newest,
                report, daily, quality, notice, not_in_seed_notice(conn, params.assistant), reaches_past, complete,
                previous_begins_before_loaded_days(params, loaded.first))


def paths_from_arguments(argv: list[str]) -> tuple[Path, Path | None]:
    """The warehouse file and the exports folder that `assistant-analytics dashboard` gives the page
    (`streamlit run ... -- --warehouse PATH --exports PATH`); without them (the page run by hand),
    $ANALYTICS_WAREHOUSE's default, and no exports folder (the hints then name none: the default)."""
    def given(option: str) -> Path | None:
        return Path(argv[argv.index(option) + 1]) if option in argv[:-1] else None

    return given("--warehouse") or default_warehouse(), given("--exports")


def _stop_with_error(message: str) -> NoReturn:
    st.title("Analytics")
    st.error(message)
    st.stop()


def load() -> View:
    """Opens the warehouse read-only, reads one rerun's worth, closes it; stops with a message if it can't."""
    warehouse, exports = paths_from_arguments(sys.argv[1:])
    if not warehouse.is_file():
        st.title("Analytics")
        st.error(f"No warehouse file at `{warehouse}`.")
        st.markdown("Build one with `assistant-analytics demo` (sample data) or "
                    f"`{build_command(warehouse, exports)}`, or point `--warehouse` / `$ANALYTICS_WAREHOUSE` "
                    "at an existing file, then reload this page.")
        st.stop()
    try:
        with reading_warehouse(warehouse, exports):  # the CLI's read commands' one lines
            conn = connect_read_only(warehouse, exports)
            try:
                return _read(conn, warehouse)
            finally:
                conn.close()
    except UserError as exc:
        _stop_with_error(str(exc))


# ------------------------------------------------------------------------------------------
# Drawing (from the View only)
# ------------------------------------------------------------------------------------------


def fmt_count(v) -> str:
    return NONE if v is None else f"{v:,}"


def fmt_ratio(v) -> str:
    return NONE if v is None else f"{v:,.2f}"


def fmt_percent(v) -> str:
    return NONE if v is None else f"{v * 100:.1f}%"


def fmt_duration(seconds) -> str:
    if seconds is None:
        return NONE
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


FORMATS = {"count": fmt_count, "ratio": fmt_ratio, "percent": fmt_percent, "duration": fmt_duration, "text": str}
# The colour of a metric's change by what a rise means (metrics.toml `rise`): red when a rise is
# bad news, grey when it is neither good nor bad.
CHANGE_COLORS = {"good": "normal", "bad": "inverse", "neutral": "off"}
# A metric shown without its change against the previous period
NO_PREVIOUS = object()
CHANGE_HELP = ("The change under the number: this period minus the previous period (the same number "
               "of days just before it, same channel), from the report's `previous`; in percentage "
               "points (pp) for a rate. None when either value is empty (—), and none for any "
               "number when the previous period has no data at all (no chat and no message), begins "
               "before the first loaded export day, or this period is not wholly loaded yet (the "
               "caption says which).")


def definitions(module: str) -> dict:
    """metrics.toml's entry of a report module: title, caption and its metrics by report field."""
    return queries.metrics()[module]


def definition(module: str, key: str) -> dict:
    return next(m for m in definitions(module)["metrics"] if m["key"] == key)


def change(value, previous, fmt) -> str | None:
    """The difference value - previous as the metric shows it; None when either is missing."""
    if value is None or previous is None or previous is NO_PREVIOUS:
        return None
    diff = value - previous
    if fmt is fmt_percent:
        text = f"{diff * 100:+.1f} pp"
    elif fmt is fmt_ratio:
        text = f"{diff:+,.2f}"
    elif fmt is fmt_duration:
        text = ("-" if diff < 0 else "+") + fmt_duration(abs(diff))
    else:
        text = f"{diff:+,}"
    # a change that rounds to nothing is shown unsigned, without an arrow
    return text if any(digit in text for digit in "123456789") else text[1:]


def metric(spec: dict, value, previous=NO_PREVIOUS, period: tuple[str, str] | None = None,
           detail: str = "", no_change_reason: str | None = None) -> None:
    """One number as metrics.toml defines it (`spec`: label, format, help, rise), with its change
    against `previous` unless that is NO_PREVIOUS (then its help gives `no_change_reason`, from
    why_no_change)."""
    fmt = FORMATS[spec["format"]]
    exact = f" Exact value: {value}." if isinstance(value, float) else ""
    delta = change(value, previous, fmt)
    if period and previous is not NO_PREVIOUS:
        exact += (f" Previous period ({period[0]} to {period[1]}): {fmt(previous)}; the change shown is this "
                  "period minus it" + (", in percentage points." if fmt is fmt_percent else "."))
    elif no_change_reason:
        exact += f" No change shown: {no_change_reason}."
    unchanged = delta is not None and delta[0] not in "+-"
    st.metric(spec["label"], fmt(value), delta=delta,
              delta_color="off" if unchanged else CHANGE_COLORS[spec["rise"]],
              delta_arrow="off" if unchanged else "auto", help=spec["help"] + detail + exact, border=True)


def module_metrics(view: View, module: str) -> None:
    """The module's metrics of metrics.toml, one row of the page per `row`: each shows the report
    field's value and its change against the same field of the report's previous period."""
    report, before = view.report, view.report["previous"]
    why_not = why_no_change(view)
    specs = definitions(module)["metrics"]
    for row in sorted({spec.get("row", 1) for spec in specs}):
        shown = [spec for spec in specs if spec.get("row", 1) == row]
        for col, spec in zip(st.columns(len(shown)), shown, strict=True):
            with col:
                reason = why_not or window_not_elapsed(spec.get("window_days"), view.params.date_to,
                                                       view.last_complete_day)
                metric(spec, report[module][spec["key"]],
                       previous=before[module][spec["key"]] if reason is None else NO_PREVIOUS,
                       period=(before["from"], before["to"]), no_change_reason=reason)


def why_no_change(view: View) -> str | None:
    """Why the numbers show no change against the previous period, or None when they show it: only
    when it has data, the period itself does not reach past the loaded export days (its last days,
    not loaded yet, would show as a fall), and the previous period does not begin before the first
    loaded export day (its first days, never loaded, would show as a rise). The caption above the
    numbers and each number's help say the same reason."""
    before = view.report["previous"]
    if view.reaches_past:
        return "this period is not wholly loaded yet"
    if not previous_has_data(view.report):
        return f"the previous period ({before['from']} to {before['to']}) has no data"
    if view.previous_begins_before is not None:
        return (f"the previous period ({before['from']} to {before['to']}) begins before the first loaded "
                f"export day ({view.previous_begins_before})")
    return None


def changes_shown(view: View) -> bool:
    return why_no_change(view) is None


def previous_has_data(report: dict) -> bool:
    """Does the previous period hold anything: a chat, or a message (Traffic counts messages by their
    own local time)? Without, no metric shows a change: a change from nothing says nothing."""
    before = report["previous"]
    return before["chats"]["total"] > 0 or any(c["messages"] for c in before["traffic"]["cells"])


def table(df: pd.DataFrame, name: str, view: View, *, column_config: dict | None = None,
          height: int | str = "auto") -> None:
    """A table and a CSV download of exactly what it shows."""
    st.dataframe(df, hide_index=True, width="stretch", column_config=column_config, height=height)
    p = view.params
    file_name = f"{p.assistant}_{p.date_from}_{p.date_to}_{p.channel or 'all'}_{name}.csv"
    st.download_button("Download CSV", df.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       key=f"download-{name}", on_click="ignore", icon=":material/download:",
                       help=f"This table as {file_name}")


def trend(view: View, column: str, title: str, fmt: str = ",d") -> None:
    df = view.daily[["date", column]]
    chart = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0, tickCount="day",
                                                                   labelOverlap=True)),
            # a count's ticks are whole numbers (a chart of zeros was labelled 0.000000)
            y=alt.Y(f"{column}:Q", title=None,
                    axis=alt.Axis(format=fmt, tickMinStep=1 if fmt == ",d" else alt.Undefined)),
            tooltip=[alt.Tooltip("date:T", title="Local date", format="%a %Y-%m-%d"),
                     alt.Tooltip(f"{column}:Q", title=title, format=fmt)],
        )
        .properties(height=170, title=alt.TitleParams(f"{title} per day", fontSize=13, anchor="start"))
    )
    st.altair_chart(chart, width="stretch")


def bars(df: pd.DataFrame, category: str, value: str, title: str, color: str | None = None,
         sort: list | None = None, horizontal: bool = True) -> None:
    cat = alt.Y if horizontal else alt.X
    val = alt.X if horizontal else alt.Y
    enc = {
        ("y" if horizontal else "x"): cat(f"{category}:N", title=None, sort=(sort or "-x") if horizontal else sort,
                                          axis=alt.Axis(labelAngle=0, labelLimit=180)),
        ("x" if horizontal else "y"): val(f"{value}:Q", title=None),
        "tooltip": list(df.columns),
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color.replace("_", " "))
    chart = (alt.Chart(df).mark_bar().encode(**enc)
             .properties(height=alt.Step(26) if horizontal else 220,
                         title=alt.TitleParams(title, fontSize=13, anchor="start")))
    st.altair_chart(chart, width="stretch")


def section(module: str):
    """A bordered box for a report module, titled and captioned from metrics.toml."""
    spec = definitions(module)
    box = st.container(key=f"section-{module}", border=True)
    box.subheader(spec["title"])
    box.caption(spec["caption"])
    return box


# ------------------------------------------------------------------------------------------
# The page: one function per section, in the page's order
# ------------------------------------------------------------------------------------------


def _days(p: ReportParams) -> str:
    days = (p.date_to - p.date_from).days + 1
    return "1 day" if days == 1 else f"{days:,} days"


def draw_header(view: View) -> None:
    r, p = view.report, view.params
    st.title("Analytics")
    st.markdown(
        f"**{view.assistant_name}** (`{p.assistant}`, {r['timezone']}) · "
        f"{p.date_from:%a %d %b %Y} to {p.date_to:%a %d %b %Y} ({_days(p)}, local) · "
        f"{('channel **' + p.channel + '**') if p.channel else 'all channels'}"
    )
    st.caption("Every KPI counts what belongs to chats that started in the period (Traffic: messages by their "
               "own local time). Hover a number for its definition. Newest chat of the assistant: "
               f"{view.newest_chat or 'none'}.")
    for line in (view.notice, view.unseeded):
        if line:
            st.warning(line[:1].upper() + line[1:] + ".")
    before = r["previous"]
    why_not = why_no_change(view)
    st.caption(f"Under each number: its change against the previous period, {before['from']} to {before['to']} "
               "(percentage points for a rate)." if why_not is None
               else f"No change against the previous period is shown under the numbers: {why_not}.", help=CHANGE_HELP)


def draw_users(view: View) -> None:
    with section("users"):
        module_metrics(view, "users")
        left, right = st.columns([3, 2])
        with left:
            trend(view, "users", "Active users")
        with right:
            dev = pd.DataFrame(view.report["users"]["by_device"], columns=["device_type", "browser", "users"])
            if dev.empty:
                st.info("No active users in the period.")
            else:
                shown = dev.assign(browser=dev["browser"].fillna("(none)"))
                bars(shown, "device_type", "users", "Users by device and browser", color="browser")
        table(dev, "users_by_device", view, column_config={
            "device_type": "Device", "browser": "Browser", "users": st.column_config.NumberColumn("Users")})


def draw_metrics_and_trend(view: View, module: str, column: str, title: str) -> None:
    """A section of metrics and one trend line (Messages, Chats, Answers, Engagement, Outcomes)."""
    with section(module):
        module_metrics(view, module)
        trend(view, column, title)


def draw_handover(view: View) -> None:
    h = view.report["handover"]
    with section("handover"):
        module_metrics(view, "handover")
        trend(view, "handover_requests", "Handover requests")
        left, right = st.columns(2)
        with left:
            trig = pd.DataFrame([{"trigger": k, "requests": v} for k, v in h["by_trigger"].items()])
            bars(trig, "trigger", "requests", "Requests by trigger", sort=list(h["by_trigger"]))
            table(trig, "handover_by_trigger", view)
        with right:
            mode = pd.DataFrame([{"mode": k, "requests": v} for k, v in h["by_mode"].items()])
            bars(mode, "mode", "requests", "Requests by mode", sort=list(h["by_mode"]))
            table(mode, "handover_by_mode", view)


def draw_retention(view: View) -> None:
    with section("retention"):
        module_metrics(view, "retention")


def draw_feedback(view: View) -> None:
    f = view.report["feedback"]
    with section("feedback"):
        module_metrics(view, "feedback")
        classes = pd.DataFrame([{"class": k, "chats": v} for k, v in f["chats_by_class"].items()])
        left, right = st.columns([3, 2])
        with left:
            bars(classes, "class", "chats", "Chats by class of their final ratings", sort=list(f["chats_by_class"]))
        with right:
            table(classes, "feedback_chats_by_class", view)


def draw_csat(view: View) -> None:
    cs = view.report["csat"]
    with section("csat"):
        module_metrics(view, "csat")
        dist = pd.DataFrame([{"score": k, "votes": v} for k, v in cs["distribution"].items()])
        left, mid, right = st.columns([2, 2, 1])
        with left:
            bars(dist, "score", "votes", "Votes by score", sort=list(cs["distribution"]), horizontal=False)
        with mid:
            trend(view, "csat_score", "CSAT score", fmt=".2f")
        with right:
            table(dist, "csat_distribution", view)


def draw_traffic(view: View) -> None:
    r = view.report
    with section("traffic"):
        cells = pd.DataFrame(r["traffic"]["cells"], columns=["weekday", "hour", "messages"])
        cells["day"] = cells["weekday"].map(lambda d: WEEKDAYS[d - 1])
        top = cells.loc[cells["messages"].idxmax()] if len(cells) else None
        busiest = f"{top['day']} {int(top['hour']):02d}:00" if top is not None and top["messages"] > 0 else NONE
        before = r["previous"]
        # the same number of the previous period: the message count of its own busiest cell
        previous_top = max((c["messages"] for c in before["traffic"]["cells"]), default=None)
        left, right = st.columns(2)
        with left:
            metric(definition("traffic", "busiest_hour"), busiest,
                   detail=f" Its messages: {int(top['messages']) if top is not None else 0:,}.")
        with right:
            metric(definition("traffic", "busiest_hour_messages"), int(top["messages"]) if top is not None else None,
                   previous=previous_top if changes_shown(view) else NO_PREVIOUS,
                   period=(before["from"], before["to"]), no_change_reason=why_no_change(view))
        heat = (
            alt.Chart(cells)
            .mark_rect()
            .encode(
                x=alt.X("hour:O", title="Local hour", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("day:N", title=None, sort=WEEKDAYS),
                color=alt.Color("messages:Q", title="Messages", scale=alt.Scale(scheme="blues")),
                tooltip=[alt.Tooltip("day:N", title="Weekday"), alt.Tooltip("hour:O", title="Hour"),
                         alt.Tooltip("messages:Q", title="Messages", format=",d")],
            )
            .properties(height=240)
        )
        st.altair_chart(heat, width="stretch")
        with st.expander("Traffic table (weekday x hour)"):
            grid = cells.pivot(index="day", columns="hour", values="messages").reindex(WEEKDAYS)
            grid.columns = [f"{h:02d}" for h in grid.columns]
            table(grid.reset_index().rename(columns={"day": "weekday"}), "traffic", view)


def draw_clicks(view: View) -> None:
    all_rows = view.report["clicks"]["rows"]
    with section("clicks"):
        rows = pd.DataFrame(all_rows, columns=["click_type", "title", "destination_type", "destination", "clicks"])
        needle = st.text_input("Filter clicks", key="clicks_filter", placeholder="type to filter any column",
                               icon=":material/search:")
        if needle.strip():
            text = rows[["click_type", "title", "destination_type", "destination"]].fillna("").astype(str)
            hit = text.apply(lambda col: col.str.contains(needle.strip(), case=False, regex=False)).any(axis=1)
            rows = rows[hit]
        st.caption(f"{len(rows):,} of {len(all_rows):,} rows")
        table(rows, "clicks", view, height=min(400, 38 + 35 * max(len(rows), 1)), column_config={
            "click_type": "Click type", "title": "Title", "destination_type": "Destination type",
            "destination": "Destination", "clicks": st.column_config.NumberColumn("Clicks")})


def draw_agents(view: View) -> None:
    with section("agents"):
        agents = pd.DataFrame(view.report["agents"]["rows"],
                              columns=["agent_id", "name", "kind", "views", "positive", "negative"])
        if agents.empty:
            st.info("No agent or workflow activity in the period.")
        else:
            label = agents["name"].fillna(agents["agent_id"])
            left, right = st.columns(2)
            with left:
                bars(agents.assign(agent=label), "agent", "views", "Views per agent", color="kind",
                     sort=list(label))
            with right:
                thumbs = agents.assign(agent=label).melt(id_vars=["agent"], value_vars=["positive", "negative"],
                                                         var_name="rating", value_name="answers")
                chart = (alt.Chart(thumbs).mark_bar().encode(
                    y=alt.Y("agent:N", title=None, sort=list(label), axis=alt.Axis(labelLimit=180)),
                    x=alt.X("answers:Q", title=None),
                    color=alt.Color("rating:N", scale=alt.Scale(domain=["positive", "negative"],
                                                                range=["#2e9d5b", "#d1495b"])),
                    tooltip=["agent", "rating", "answers"],
                ).properties(height=alt.Step(26),
                             title=alt.TitleParams("Thumbs per agent", fontSize=13, anchor="start")))
                st.altair_chart(chart, width="stretch")
        table(agents, "agents", view, column_config={
            "agent_id": "Agent id", "name": "Name", "kind": "Kind",
            "views": st.column_config.NumberColumn("Views"),
            "positive": st.column_config.NumberColumn("Thumbs up"),
            "negative": st.column_config.NumberColumn("Thumbs down")})


def draw_footer(view: View) -> None:
    r, p, q = view.report, view.params, view.quality
    st.divider()
    with st.expander("Daily points behind the trend charts"):
        table(pd.DataFrame(r["daily"]), "daily", view)
    if q.get("lines_rejected"):
        st.caption(f"Data quality: {q['lines_rejected']:,} of {q['lines_read']:,} export lines rejected and "
                   f"{q['duplicates_dropped']:,} duplicates dropped on the period's {q['export_days']} export "
                   "days, all assistants (see `raw.rejected_lines`).")
    st.download_button("Download the report (JSON)", json.dumps(r, indent=2).encode(),
                       file_name=f"{p.assistant}_{p.date_from}_{p.date_to}_{p.channel or 'all'}_report.json",
                       mime="application/json", key="download-report", on_click="ignore")
    st.caption(f"Read from `{view.warehouse}` (modified {view.modified:%Y-%m-%d %H:%M:%S}); "
               "the file is opened read-only for each rerun and closed before drawing.")


def render(view: View) -> None:
    draw_header(view)
    draw_users(view)
    draw_metrics_and_trend(view, "messages", "user_messages", "User messages")
    draw_metrics_and_trend(view, "chats", "chats", "Chats")
    draw_handover(view)
    draw_metrics_and_trend(view, "outcomes", "escalated_chats", "Escalated chats")
    draw_metrics_and_trend(view, "answers", "fallbacks", "Fallbacks")
    draw_metrics_and_trend(view, "engagement", "new_users", "New users")
    draw_retention(view)
    draw_feedback(view)
    draw_csat(view)
    draw_traffic(view)
    draw_clicks(view)
    draw_agents(view)
    draw_footer(view)


def main() -> None:
    st.set_page_config(page_title="Assistant analytics", page_icon=":material/monitoring:", layout="wide")
    render(load())


main()
