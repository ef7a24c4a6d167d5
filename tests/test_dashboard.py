"""The Streamlit dashboard: rendered with AppTest against a demo warehouse, and served for real.

One warehouse is built once for the module (7 days of demo exports, `refresh --all` through the
CLI). The AppTest tests set the sidebar filters, render the page and check every st.metric of
every module section (its value and its change against the previous period), and every table,
against `assistant-analytics report --format json` for the same filters. The expected labels and
the report fields they show are written out here, independently of the dashboard's code. Other
AppTest tests open the page from a URL's filters and with a chat dated far in the future. The last
tests start `assistant-analytics dashboard`: it listens on 127.0.0.1 only, and headless Chromium
takes a screenshot.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from conftest import (
    CLI,
    REPO,
    Workspace,
    duckdb_blocks,
    environment_without_settings,
    slow_fixture,
    with_a_damaged_block,
)
from streamlit.testing.v1 import AppTest

from orchestration.demo.generator import generate_exports

DASHBOARD = str(REPO / "orchestration" / "serve" / "dashboard.py")
CHROMIUM = "/usr/bin/chromium"

# section key -> {metric label: path of the report field it shows}
METRICS = {
    "users": {"Active users": ("users", "total"), "New users": ("users", "new"),
              "Returning users": ("users", "returning")},
    "messages": {"User messages": ("messages", "user_messages"), "Messages per user": ("messages", "per_user"),
                 "Messages per chat": ("messages", "per_chat")},
    "chats": {"Chats": ("chats", "total"), "Avg chat duration": ("chats", "avg_duration_seconds"),
              "Chats per user": ("chats", "per_user")},
    "handover": {"Handover requests": ("handover", "requests"), "Handover rate": ("handover", "rate"),
                 "Chats with handover": ("handover", "chats_with_requests"),
                 "Chats without handover": ("handover", "chats_without_requests")},
    "engagement": {"New users": ("engagement", "new_users"), "Returning users": ("engagement", "returning_users"),
                   "Returning rate": ("engagement", "returning_rate")},
    "feedback": {"Reviewable answers": ("feedback", "reviewable"), "Positive": ("feedback", "positive"),
                 "Negative": ("feedback", "negative"), "No feedback": ("feedback", "no_feedback")},
    "csat": {"CSAT score": ("csat", "score"), "CSAT votes": ("csat", "votes")},
    "outcomes": {"Resolved": ("outcomes", "resolved"), "Abandoned": ("outcomes", "abandoned"),
                 "Escalated": ("outcomes", "escalated"), "Containment rate": ("outcomes", "containment_rate"),
                 "Resolution rate": ("outcomes", "resolution_rate"),
                 "Abandonment rate": ("outcomes", "abandonment_rate"),
                 "Escalation rate": ("outcomes", "escalation_rate")},
    "answers": {"Answers": ("answers", "answers"), "Fallbacks": ("answers", "fallbacks"),
                "Fallback rate": ("answers", "fallback_rate"),
                "Chats with fallback": ("answers", "chats_with_fallback")},
    "retention": {"Cohort": ("retention", "cohort"), "Returned within 7 days": ("retention", "returned_7d"),
                  "Returned within 30 days": ("retention", "returned_30d"),
                  "7-day retention": ("retention", "rate_7d"), "30-day retention": ("retention", "rate_30d")},
    "traffic": {},  # checked on its own: the busiest cell, and the full weekday x hour table
    "clicks": {},  # tables only
    "agents": {},
}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
@slow_fixture
def demo_refresh(module_workspace: Workspace) -> tuple[Workspace, dict, subprocess.CompletedProcess]:
    summary = generate_exports(module_workspace.exports, days=7)
    return module_workspace, summary, module_workspace.cli("refresh", "--all")


@pytest.fixture(scope="module")
def demo(demo_refresh) -> tuple[Workspace, dict]:
    return demo_refresh[0], demo_refresh[1]


def test_refresh_shows_dbt_progress_as_plain_lines(demo_refresh):
    """stderr is a pipe here: node n/N lines, no progress bar's control characters."""
    *_, proc = demo_refresh
    selected = re.search(r"^  dbt build: (\d+) nodes, \d+ threads?$", proc.stderr, re.M)
    assert selected, proc.stderr
    assert f"dbt build: node {selected[1]}/{selected[1]} done (100%)" in proc.stderr, proc.stderr
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr


def test_the_benchmark_reads_each_phase_of_a_refresh_from_its_progress_lines(demo_refresh):
    """benchmarks/run.py times a refresh's load, dbt build and publish from the lines the CLI prints
    (its PHASES): a change of those lines would leave the benchmark's table without them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks" / "run.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    *_, proc = demo_refresh
    found = benchmark.phases(proc.stderr, 1000.0)["phases"]
    assert set(found) == {"load", "dbt", "publish", "other"}
    assert found["load"] > 0 and found["dbt"] > 0, proc.stderr
    assert len(benchmark.PHASES["publish"].findall(proc.stderr)) == 1, proc.stderr


@pytest.fixture
def app(demo, monkeypatch):
    ws, _ = demo
    monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(ws.warehouse))
    return AppTest.from_file(DASHBOARD, default_timeout=120)


@pytest.fixture(scope="session")
@slow_fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            proc = subprocess.run("apt-get update && apt-get install -y chromium", shell=True, env=env,
                                  capture_output=True, text=True, timeout=1200)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"Chromium is missing and installing it failed: {exc}")
        if proc.returncode != 0 or not Path(CHROMIUM).exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"Chromium is missing and `apt-get install -y chromium` failed "
                        f"(exit {proc.returncode}): {tail[0]}")
    return CHROMIUM


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def newest_chat_date(ws: Workspace, assistant: str) -> dt.date:
    return ws.query("select max(chat_local_date) from marts.fct_chats where assistant_id = ?", [assistant])[0][0]


def default_end(ws: Workspace, assistant: str) -> dt.date:
    """Where the presets end (docs/dashboard.md): the newest chat's local day, stepped back while the loaded
    export days (UTC) do not hold all of that local day."""
    (tz,) = ws.query("select timezone from marts.dim_assistants where assistant_id = ?", [assistant])[0]
    (newest_export_day,) = ws.query("select max(export_date) from raw.export_days")[0]
    covered_until = dt.datetime.combine(newest_export_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    day = newest_chat_date(ws, assistant)
    while dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(tz)) > covered_until:
        day -= dt.timedelta(days=1)
    return day


def run_page(at: AppTest) -> AppTest:
    """Runs the script; every page of the dashboard has a title, so one without ran nothing.

    Python 3.11 shares the AST constructor's recursion counter between threads (CPython
    gh-106905): Streamlit's compile of the script in its runner thread can fail spuriously with
    "AST constructor recursion depth mismatch", which AppTest only logs, leaving an empty page
    (seen once in CI). Such a run is repeated, at most twice; a page that stays empty fails. The
    repeat runs from the element tree the test set its widget values on: the empty page holds no
    widgets, so running from it would lose them (the page would fall back to its defaults).
    """
    tree = at._tree  # ElementTree.run sends this tree's widget values with the run
    for _ in range(3):
        tree.run()
        if at.title:
            break
    assert at.title, "the dashboard rendered nothing: its script did not compile or did not run"
    return at


def run_ok(at: AppTest) -> AppTest:
    run_page(at)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def shown_equals(shown: str, expected) -> bool:
    """Does a metric's text show the report value (to the precision it is displayed with)?"""
    if expected is None:
        return shown == "—"
    if shown.endswith("%"):
        return abs(float(shown[:-1]) / 100 - expected) <= 0.0005 + 1e-9
    duration = re.fullmatch(r"(?:(\d+)h )?(?:(\d+)m )?(\d+)s", shown)
    if duration:
        h, m, s = (int(x or 0) for x in duration.groups())
        return abs(h * 3600 + m * 60 + s - expected) <= 0.5 + 1e-9
    number = shown.replace(",", "")
    if "." in number:
        decimals = len(number.split(".")[1])
        return abs(float(number) - expected) <= 0.5 * 10 ** -decimals + 1e-9
    return isinstance(expected, int) and int(number) == expected


def change_equals(shown: str, expected) -> bool:
    """Does a metric's change show `expected` (this period minus the previous one), to the precision
    it is displayed with? A rate's change is in percentage points ("+1.5 pp"); a change that rounds
    to zero is shown unsigned."""
    if shown.endswith(" pp"):
        return abs(float(shown[:-3]) - expected * 100) <= 0.05 + 1e-9
    sign = -1 if shown.startswith("-") else 1
    body = shown.lstrip("+-")
    duration = re.fullmatch(r"(?:(\d+)h )?(?:(\d+)m )?(\d+)s", body)
    if duration:
        h, m, s = (int(x or 0) for x in duration.groups())
        return abs(sign * (h * 3600 + m * 60 + s) - expected) <= 0.5 + 1e-9
    number = sign * float(body.replace(",", ""))
    if "." in body:
        return abs(number - expected) <= 0.5 * 10 ** -len(body.split(".")[1]) + 1e-9
    return isinstance(expected, int) and number == expected


def previous_has_data(report: dict) -> bool:
    """docs/dashboard.md: no change is shown when the previous period has no chat and no message at all."""
    before = report["previous"]
    return before["chats"]["total"] > 0 or any(c["messages"] for c in before["traffic"]["cells"])


def records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict("records")]


def page_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def tables(section) -> list[pd.DataFrame]:
    return [d.value for d in section.dataframe]


def first_export_day(ws: Workspace) -> dt.date:
    return ws.query("select min(export_date) from marts.data_quality_daily")[0][0]


# The retention numbers counted over n days after each cohort user's first chat: no change shown
# until those days are loaded for the period's last day (docs/dashboard.md). The demo's week never
# holds them for a period with a previous period in it.
RETENTION_WINDOWS = {"returned_7d", "returned_30d", "rate_7d", "rate_30d"}


def check_page(at: AppTest, report: dict, first_export_day: dt.date, reaches_past: bool = False) -> int:
    """Every metric and table of every module section against the report JSON; returns how many
    metrics show a change against the previous period (none when the period reaches past the
    newest loaded export day, or the previous period begins before the first one, and none for a
    retention window not yet loaded: docs/dashboard.md)."""
    changes = 0
    previous_complete = dt.date.fromisoformat(report["previous"]["from"]) >= first_export_day
    changes_shown = previous_has_data(report) and not reaches_past and previous_complete
    for key, expected in METRICS.items():
        section = at.get_by_key(f"section-{key}")
        shown = {m.label: m.value for m in section.metric}
        deltas = {m.label: m.delta for m in section.metric}
        if key == "traffic":
            continue
        assert set(shown) == set(expected), (key, shown)
        for label, (module, field) in expected.items():
            value = report[module][field]
            assert shown_equals(shown[label], value), f"{key}: {label} shows {shown[label]!r}, report {value!r}"
            previous = report["previous"][module][field]
            if value is None or previous is None or not changes_shown or field in RETENTION_WINDOWS:
                assert not deltas[label], f"{key}: {label} shows a change {deltas[label]!r}, previous {previous!r}"
            else:
                assert change_equals(deltas[label], value - previous), \
                    f"{key}: {label} shows a change {deltas[label]!r}, report {value!r} - {previous!r}"
                changes += 1

    users = tables(at.get_by_key("section-users"))
    assert records(users[0]) == report["users"]["by_device"]

    trigger, mode = tables(at.get_by_key("section-handover"))
    assert dict(zip(trigger["trigger"], trigger["requests"])) == report["handover"]["by_trigger"]
    assert dict(zip(mode["mode"], mode["requests"])) == report["handover"]["by_mode"]

    (classes,) = tables(at.get_by_key("section-feedback"))
    assert dict(zip(classes["class"], classes["chats"])) == report["feedback"]["chats_by_class"]

    (dist,) = tables(at.get_by_key("section-csat"))
    assert dict(zip(dist["score"], dist["votes"])) == report["csat"]["distribution"]

    traffic = at.get_by_key("section-traffic")
    (grid,) = tables(traffic)
    grid = grid.set_index("weekday")
    assert list(grid.index) == WEEKDAYS and list(grid.columns) == [f"{h:02d}" for h in range(24)]
    cells = report["traffic"]["cells"]
    assert [int(grid.loc[WEEKDAYS[c["weekday"] - 1], f"{c['hour']:02d}"]) for c in cells] == \
           [c["messages"] for c in cells]
    busiest = max(cells, key=lambda c: c["messages"])  # the first maximal cell, as the report orders them
    shown = {m.label: m.value for m in traffic.metric}
    assert shown["Busiest hour"] == (f"{WEEKDAYS[busiest['weekday'] - 1]} {busiest['hour']:02d}:00"
                                     if busiest["messages"] else "—")  # no message at all: no busiest hour
    assert shown_equals(shown["Messages in the busiest hour"], busiest["messages"])
    deltas = {m.label: m.delta for m in traffic.metric}
    assert not deltas["Busiest hour"]
    # against the previous period's own busiest weekday and hour
    previous_busiest = max(c["messages"] for c in report["previous"]["traffic"]["cells"])
    if changes_shown:
        assert change_equals(deltas["Messages in the busiest hour"], busiest["messages"] - previous_busiest)
        changes += 1
    else:
        assert not deltas["Messages in the busiest hour"]

    (clicks,) = tables(at.get_by_key("section-clicks"))
    assert records(clicks) == report["clicks"]["rows"]

    (agents,) = tables(at.get_by_key("section-agents"))
    assert records(agents) == report["agents"]["rows"]

    # The trend points, last table of the page: the report's daily series as it is
    assert records(at.dataframe[-1].value) == report["daily"]

    # Every table has its CSV download; plus one for the whole report.
    assert len(at.download_button) == len(at.dataframe) + 1
    assert all(b.label.startswith("Download") for b in at.download_button)
    return changes


def set_custom_range(at: AppTest, date_from: dt.date, date_to: dt.date) -> None:
    at.radio(key="preset").set_value("Custom")
    run_ok(at)
    at.date_input(key="dates").set_value((date_from, date_to))
    run_ok(at)


# ------------------------------------------------------------------------------------------
# AppTest
# ------------------------------------------------------------------------------------------


def test_filtered_page_matches_report(demo, app):
    ws, summary = demo
    first, last = dt.date.fromisoformat(summary["first_day"]), dt.date.fromisoformat(summary["last_day"])
    # the second half of the export days: the previous period lies within them too
    date_from, date_to = first + (last - first) // 2 + dt.timedelta(days=1), last - dt.timedelta(days=1)
    assert date_from - (date_to - date_from) - dt.timedelta(days=1) >= first
    run_ok(app)
    ids = [r[0] for r in ws.query("select assistant_id from marts.dim_assistants order by 1")]
    options = app.selectbox(key="assistant").options  # shown as "Name (id)", or the id when nameless
    assert len(options) == len(ids) and all(o == i or o.endswith(f"({i})") for o, i in zip(options, ids))
    app.selectbox(key="assistant").set_value("globex-sales")
    run_ok(app)
    channels = [r[0] for r in ws.query("select distinct channel from marts.fct_chats "
                                       "where assistant_id = 'globex-sales' order by 1")]
    assert app.selectbox(key="channel").options == ["All channels", *channels]
    app.selectbox(key="channel").set_value("web")
    set_custom_range(app, date_from, date_to)

    report = ws.report("globex-sales", date_from.isoformat(), date_to.isoformat(), channel="web")
    assert report["users"]["returning"] > 0 and report["clicks"]["rows"] and report["agents"]["rows"]
    # the new modules have something to show, in both periods
    assert report["outcomes"]["resolved"] and report["outcomes"]["escalated"] and report["answers"]["fallbacks"]
    assert report["retention"]["cohort"] and report["previous"]["chats"]["total"]
    assert check_page(app, report, first) > 30  # nearly every metric shows its change
    # but not the retention numbers whose days after the period are not loaded yet, and they say why
    retention = {m.label: m.proto.help for m in app.get_by_key("section-retention").metric}
    assert "No change shown" not in retention["Cohort"]
    for label, days in (("Returned within 7 days", 7), ("7-day retention", 7), ("30-day retention", 30)):
        assert f"No change shown: this period's new users have not all had {days} days to return yet" \
            in retention[label], retention[label]
    daily = app.dataframe[-1].value  # the trend points: one row per day of the period
    assert list(daily["date"]) == [(date_from + dt.timedelta(days=i)).isoformat()
                                   for i in range((date_to - date_from).days + 1)]

    # The clicks filter keeps the rows that contain the text (any case) in any of the four key columns.
    rows = report["clicks"]["rows"]

    def matching(needle: str) -> list[dict]:
        return [r for r in rows if any(needle.lower() in (r[k] or "").lower()
                                       for k in ("click_type", "title", "destination_type", "destination"))]

    # a word of a title that keeps some rows, but not all and not just one
    needle = next(w.upper() for r in rows for w in r["title"].split() if 2 <= len(matching(w)) < len(rows))
    app.text_input(key="clicks_filter").set_value(needle)
    run_ok(app)
    (clicks,) = tables(app.get_by_key("section-clicks"))
    assert records(clicks) == matching(needle)
    assert f"{len(matching(needle))} of {len(rows)} rows" in [c.value for c in app.caption]


def test_default_period_ends_on_the_last_complete_local_day(demo, app):
    ws, _ = demo
    run_ok(app)
    assistant = app.selectbox(key="assistant").value
    assert app.selectbox(key="channel").value == "All channels"
    end = default_end(ws, assistant)
    # acme-support (Europe/Rome) has chats on the local day after the newest export day began: a
    # partial day, which the default period leaves out
    assert assistant == "acme-support" and end < newest_chat_date(ws, assistant)
    report = ws.report(assistant, (end - dt.timedelta(days=6)).isoformat(), end.isoformat())
    check_page(app, report, first_export_day(ws))
    assert app.dataframe[-1].value["date"].max() == end.isoformat()
    assert app.query_params == {"assistant": assistant, "period": "last-7-days"}
    # behind the newest export day (America/New_York): its last local day ends after it
    app.selectbox(key="assistant").set_value("globex-sales")
    run_ok(app)
    end = default_end(ws, "globex-sales")
    assert end < newest_chat_date(ws, "globex-sales")
    assert f"to {end:%a %Y-%m-%d}" in [c.value for c in app.sidebar.caption][0]


def test_a_previous_period_without_data_shows_no_change(demo, app):
    """The demo data's first days: the days before them hold no chat and no message, so no metric
    shows a change (a change from nothing says nothing) and the page says why."""
    ws, summary = demo
    first = dt.date.fromisoformat(summary["first_day"])
    date_to = first + dt.timedelta(days=2)
    # Europe/Rome is ahead of UTC: no local date of it falls before the first export day
    report = ws.report("acme-support", first.isoformat(), date_to.isoformat())
    assert report["previous"]["chats"]["total"] == 0 and report["chats"]["total"] > 0
    assert not any(c["messages"] for c in report["previous"]["traffic"]["cells"])
    app.query_params = {"assistant": "acme-support", "from": first.isoformat(), "to": date_to.isoformat()}
    run_ok(app)
    assert check_page(app, report, first) == 0
    assert not [m.delta for m in app.metric if m.delta]
    before = report["previous"]
    assert (f"No change against the previous period is shown under the numbers: the previous period "
            f"({before['from']} to {before['to']}) has no data.") in [c.value for c in app.caption]
    reasons = {m.proto.help.split(" No change shown: ", 1)[-1] for m in app.metric if "No change shown" in m.proto.help}
    assert reasons == {f"the previous period ({before['from']} to {before['to']}) has no data."}, reasons


def test_a_previous_period_begun_before_the_first_export_day_shows_no_change(demo, app):
    """The previous period holds data, but its first days were never loaded (before the first export
    day): its numbers are low for want of data, not of chats, so no metric shows a change and the
    page says why; `report` says it in a note on stderr."""
    ws, summary = demo
    first = dt.date.fromisoformat(summary["first_day"])
    date_from, date_to = first + dt.timedelta(days=2), first + dt.timedelta(days=5)
    report = ws.report("globex-sales", date_from.isoformat(), date_to.isoformat())
    before = report["previous"]
    assert dt.date.fromisoformat(before["from"]) < first and previous_has_data(report)
    app.query_params = {"assistant": "globex-sales", "from": date_from.isoformat(), "to": date_to.isoformat()}
    run_ok(app)
    assert check_page(app, report, first) == 0
    assert not [m.delta for m in app.metric if m.delta]
    assert (f"No change against the previous period is shown under the numbers: the previous period "
            f"({before['from']} to {before['to']}) begins before the first loaded export day ({first}).") \
        in [c.value for c in app.caption]
    # each number's help gives the same reason (it used to say that the previous period had no data)
    reasons = {m.proto.help.split(" No change shown: ", 1)[-1] for m in app.metric if "No change shown" in m.proto.help}
    assert reasons == {f"the previous period ({before['from']} to {before['to']}) begins before the first loaded "
                       f"export day ({first})."}, reasons
    proc = ws.cli("report", "--assistant", "globex-sales", "--from", date_from.isoformat(), "--to", date_to.isoformat())
    assert (f"assistant-analytics: note: the previous period {before['from']} .. {before['to']} begins before the "
            f"first loaded export day ({first})") in proc.stderr


@pytest.mark.parametrize("days_after", [1, 2])
def test_a_period_past_the_newest_export_day_says_so_and_shows_no_change(demo, app, days_after):
    """The period's last days are not loaded yet: the page says so, as `report` does on stderr, and
    no number shows a change against the previous period (its fall would be the days not loaded)."""
    ws, summary = demo
    last = dt.date.fromisoformat(summary["last_day"])
    date_from, date_to = last + dt.timedelta(days=days_after), last + dt.timedelta(days=days_after + 6)
    report = ws.report("initech-help", date_from.isoformat(), date_to.isoformat())
    assert previous_has_data(report)
    app.query_params = {"assistant": "initech-help", "from": date_from.isoformat(), "to": date_to.isoformat()}
    run_ok(app)
    assert check_page(app, report, first_export_day(ws), reaches_past=True) == 0
    assert not [m.delta for m in app.metric if m.delta]
    (warning,) = [w.value for w in app.warning]
    # Tokyo's local date after the newest UTC export day holds that day's evening there
    says = ("The period {} .. {} reaches past the newest loaded export day ({})" if days_after == 1 else
            "No data: the period {} .. {} starts after the newest loaded export day ({})")
    assert warning.startswith(says.format(date_from, date_to, last)), warning
    assert ("No change against the previous period is shown under the numbers: this period is not wholly loaded "
            "yet.") in [c.value for c in app.caption]
    reasons = {m.proto.help.split(" No change shown: ", 1)[-1] for m in app.metric if "No change shown" in m.proto.help}
    assert reasons == {"this period is not wholly loaded yet."}, reasons


@pytest.mark.parametrize(("window", "date_to", "last_complete", "shown"), [
    (7, "2026-11-10", "2026-11-17", True),  # every cohort user's 7 days after a first chat are loaded
    (7, "2026-11-11", "2026-11-17", False),  # a first chat on the 11th: its 7th day, the 18th, is not
    (30, "2026-11-10", "2026-11-17", False),
    (30, "2026-10-18", "2026-11-17", True),
    (7, "2026-11-10", None, False),  # no export day loaded
    (None, "2026-11-17", "2026-11-17", True),  # not a retention window: shown as any number
])
def test_a_retention_change_waits_until_its_window_is_loaded(window, date_to, last_complete, shown):
    from orchestration.serve.report import window_not_elapsed

    reason = window_not_elapsed(window, dt.date.fromisoformat(date_to),
                                last_complete and dt.date.fromisoformat(last_complete))
    assert (reason is None) == shown, reason
    if not shown:
        assert reason.startswith(f"this period's new users have not all had {window} days to return yet"), reason


def test_a_period_ending_on_a_local_day_loaded_in_part_shows_no_change(demo, app):
    """West of UTC the newest export day's local date runs on after that UTC day ends (New York's
    evening): a period ending on it lacks those hours, so, as for a period past the newest export
    day, no number shows a change (it would show a fall), and the page and `report` say why."""
    ws, summary = demo
    last = dt.date.fromisoformat(summary["last_day"])
    report = ws.report("globex-sales", (last - dt.timedelta(days=2)).isoformat(), last.isoformat())
    assert previous_has_data(report) and report["chats"]["total"] > 0
    app.query_params = {"assistant": "globex-sales", "from": (last - dt.timedelta(days=2)).isoformat(),
                        "to": last.isoformat()}
    run_ok(app)
    assert check_page(app, report, first_export_day(ws), reaches_past=True) == 0
    (warning,) = [w.value for w in app.warning]
    assert warning.startswith(f"The period {last - dt.timedelta(days=2)} .. {last} ends on a day the loaded "
                              f"export days hold only in part: the newest ({last}, a UTC day) ends at 19:00 on "
                              f"{last} in America/New_York"), warning
    assert ("No change against the previous period is shown under the numbers: this period is not wholly loaded "
            "yet.") in [c.value for c in app.caption]


def test_a_one_day_period_and_a_period_picked_backwards(demo, app):
    ws, summary = demo
    last = dt.date.fromisoformat(summary["last_day"])
    app.query_params = {"assistant": "acme-support", "from": last.isoformat(), "to": last.isoformat()}
    run_ok(app)
    assert "(1 day, local)" in page_text(app)
    set_custom_range(app, last, last)
    app.date_input(key="dates").set_value((last, last - dt.timedelta(days=3)))
    run_page(app)
    assert not app.exception
    assert [e.value for e in app.error] == [
        f"The period's first day ({last}) is after its last day ({last - dt.timedelta(days=3)}): "
        "pick the two days again in the sidebar."]


def test_presets_this_month_and_channel_reset(demo, app):
    ws, _ = demo
    run_ok(app)
    app.selectbox(key="assistant").set_value("initech-help")
    app.selectbox(key="channel").set_value("voice")
    run_ok(app)
    app.radio(key="preset").set_value("This month")
    run_ok(app)
    end = default_end(ws, "initech-help")
    check_page(app, ws.report("initech-help", end.replace(day=1).isoformat(), end.isoformat(), channel="voice"),
               first_export_day(ws))
    assert app.query_params == {"assistant": "initech-help", "channel": "voice", "period": "this-month"}
    # umbrella-labs (not in the seed) has web chats only: the channel filter falls back to All.
    app.selectbox(key="assistant").set_value("umbrella-labs")
    run_ok(app)
    assert app.selectbox(key="channel").options == ["All channels", "web"]
    assert app.selectbox(key="channel").value == "All channels"
    # flagged as `report` flags it (interfaces.md: "reported in UTC and flagged"), not only "UTC" in the title
    assert ("Assistant umbrella-labs is not in seeds/assistants.csv: its local dates and hours are UTC's (add it "
            "with its time zone, then refresh).") in [w.value for w in app.warning]
    # its newest chat is days before the newest export day: a complete day, where the presets end
    newest = newest_chat_date(ws, "umbrella-labs")
    assert default_end(ws, "umbrella-labs") == newest
    assert f"{newest.replace(day=1):%a %Y-%m-%d} to {newest:%a %Y-%m-%d}" in app.sidebar.caption[0].value


def test_a_linked_view_opens_with_its_filters(demo, app):
    ws, summary = demo
    first = dt.date.fromisoformat(summary["first_day"])
    date_from, date_to = first + dt.timedelta(days=1), first + dt.timedelta(days=4)
    link = {"assistant": "globex-sales", "channel": "web", "period": "custom",
            "from": date_from.isoformat(), "to": date_to.isoformat()}
    app.query_params = dict(link)
    run_ok(app)
    assert app.selectbox(key="assistant").value == "globex-sales"
    assert app.selectbox(key="channel").value == "web"
    assert app.radio(key="preset").value == "Custom"
    assert tuple(app.date_input(key="dates").value) == (date_from, date_to)
    report = ws.report("globex-sales", date_from.isoformat(), date_to.isoformat(), channel="web")
    assert check_page(app, report, first) == 0  # its previous period begins before the first export day
    assert app.query_params == link
    # the URL follows the filters
    app.radio(key="preset").set_value("Last 30 days")
    app.selectbox(key="channel").set_value("All channels")
    run_ok(app)
    assert app.query_params == {"assistant": "globex-sales", "period": "last-30-days"}


@pytest.mark.parametrize("query", [
    {"assistant": "nobody", "channel": "sms", "period": "forever"},
    {"assistant": "umbrella-labs", "channel": "voice", "period": "custom", "from": "2026-13-01", "to": "x"},
    {"assistant": "umbrella-labs", "period": "custom", "from": "2026-11-20", "to": "2026-11-19"},
    {"assistant": "umbrella-labs", "from": "0001-01-01", "to": "9999-12-31", "channel": ""},
    {"assistant": ["acme-support", "nobody"], "period": ["", "this-month"], "to": "2026-11-22"},
])
def test_bad_values_in_the_url_fall_back_to_defaults(demo, app, query):
    ws, _ = demo
    app.query_params = query
    run_ok(app)
    assistant = app.selectbox(key="assistant").value
    assert assistant == ("umbrella-labs" if query["assistant"] == "umbrella-labs" else "acme-support")
    assert app.selectbox(key="channel").value == "All channels"
    # a repeated parameter counts with its last value
    preset = "This month" if isinstance(query.get("period"), list) else "Last 7 days"
    assert app.radio(key="preset").value == preset
    end = default_end(ws, assistant)
    start = end.replace(day=1) if preset == "This month" else end - dt.timedelta(days=6)
    assert f"{start:%a %Y-%m-%d} to {end:%a %Y-%m-%d}" in app.sidebar.caption[0].value


@pytest.fixture
def far_future_warehouse(demo, tmp_path, monkeypatch):
    """A copy of the demo warehouse where initech-help (Asia/Tokyo) has one more chat, at the given
    local date: an event dated 9999-12-31 in UTC starts a chat on 10000-01-01 in Tokyo, a date
    DuckDB holds and Python does not (DuckDB returns it as text). The chat is added to fct_chats
    and its day to fct_chats_daily (the report's chat counts): a copy of one of the assistant's
    days, moved to that date; returns that day's number of chats."""
    ws, _ = demo

    def make(local_date: str) -> int:
        path = tmp_path / "future.duckdb"
        shutil.copy(ws.warehouse, path)
        conn = duckdb.connect(str(path))
        conn.execute("insert into marts.fct_chats select * replace ('future-chat' as chat_id, "
                     "cast(? as date) as chat_local_date) from marts.fct_chats "
                     "where assistant_id = 'initech-help' limit 1", [local_date])
        [(chats,)] = conn.execute(
            "insert into marts.fct_chats_daily select * replace (cast(? as date) as chat_local_date) "
            "from marts.fct_chats_daily where assistant_id = 'initech-help' "
            "order by chats, chat_local_date, channel limit 1 returning chats", [local_date]).fetchall()
        conn.close()
        monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(path))
        return chats

    return make


@pytest.mark.parametrize("local_date", ["9999-12-31", "10000-01-01"])
def test_a_chat_dated_far_in_the_future_does_not_break_the_page(demo, far_future_warehouse, local_date):
    ws, _ = demo
    chats_that_day = far_future_warehouse(local_date)
    at = run_page(AppTest.from_file(DASHBOARD, default_timeout=120))
    at.selectbox(key="assistant").set_value("initech-help")
    run_ok(at)
    # the presets end on the last complete day, as without that chat
    end = default_end(ws, "initech-help")
    assert f"to {end:%a %Y-%m-%d}" in at.sidebar.caption[0].value
    assert f"Newest chat of the assistant: {local_date}." in " ".join(c.value for c in at.caption)
    for preset in ("Last 30 days", "This month"):
        at.radio(key="preset").set_value(preset)
        run_ok(at)
    # a period at the very end of the calendar, linked
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.query_params = {"assistant": "initech-help", "from": "9999-12-25", "to": "9999-12-31"}
    run_ok(at)
    assert tuple(at.date_input(key="dates").value) == (dt.date(9999, 12, 25), dt.date(9999, 12, 31))
    shown = {m.label: m.value for m in at.get_by_key("section-chats").metric}
    assert shown["Chats"] == (f"{chats_that_day:,}" if local_date.startswith("9999") else "0")


def test_file_is_not_held_open_and_a_replaced_file_is_picked_up(demo, app, tmp_path):
    ws, _ = demo
    run_ok(app)
    assert "ACME Support" in page_text(app)
    # Nothing holds the file: a read-write connection in this same process would refuse otherwise.
    duckdb.connect(str(ws.warehouse)).close()
    # A refresh publishes a new file by atomic rename; the next rerun reads it, no restart.
    original = tmp_path / "original.duckdb"
    shutil.copy(ws.warehouse, original)
    new = ws.warehouse.with_name("new.duckdb")
    shutil.copy(ws.warehouse, new)
    conn = duckdb.connect(str(new))
    conn.execute("update marts.dim_assistants set assistant_name = 'ACME Renamed' "
                 "where assistant_id = 'acme-support'")
    conn.close()
    try:
        os.replace(new, ws.warehouse)
        app.button(key="reload").click()
        run_ok(app)
        assert "ACME Renamed" in page_text(app)
    finally:
        os.replace(original, ws.warehouse)


def test_missing_warehouse_shows_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(tmp_path / "nowhere.duckdb"))
    monkeypatch.delenv("ANALYTICS_EXPORTS", raising=False)
    at = run_page(AppTest.from_file(DASHBOARD, default_timeout=60))
    assert not at.exception
    assert len(at.error) == 1 and "No warehouse file" in at.error[0].value
    assert "`assistant-analytics refresh --all`" in at.markdown[0].value  # the page run by hand: the defaults
    # as `assistant-analytics dashboard` starts the page: the hint builds the file it was given from
    # the exports folder it was given
    warehouse, exports = tmp_path / "w.duckdb", tmp_path / "exports"
    monkeypatch.setattr(sys, "argv", [DASHBOARD, "--warehouse", str(warehouse), "--exports", str(exports)])
    at = run_page(AppTest.from_file(DASHBOARD, default_timeout=60))
    assert f"`assistant-analytics refresh --all --warehouse {warehouse} --exports {exports}`" in at.markdown[0].value


def test_a_warehouse_without_marts_or_of_an_older_version_shows_the_command_that_builds_it(tmp_path, monkeypatch):
    warehouse, exports = tmp_path / "w.duckdb", tmp_path / "exports"
    monkeypatch.setattr(sys, "argv", [DASHBOARD, "--warehouse", str(warehouse), "--exports", str(exports)])
    duckdb.connect(str(warehouse)).close()  # a DuckDB file, empty
    at = run_page(AppTest.from_file(DASHBOARD, default_timeout=60))
    assert [e.value for e in at.error] == [
        f"the warehouse {warehouse} has no marts yet "
        f"(build it: `assistant-analytics refresh --all --warehouse {warehouse} --exports {exports}`)"]
    conn = duckdb.connect(str(warehouse))  # marts, but not those this version reads
    conn.execute("create schema marts")
    conn.execute("create table marts.dim_assistants as select 'acme-support' as assistant_id")
    conn.close()
    at = run_page(AppTest.from_file(DASHBOARD, default_timeout=60))
    assert len(at.error) == 1 and at.error[0].value.startswith(
        f"the warehouse {warehouse} lacks what this version reads (")
    assert at.error[0].value.endswith(
        f"; run `assistant-analytics refresh --full --warehouse {warehouse} --exports {exports}` once")


def test_a_damaged_block_the_page_reads_is_the_read_commands_one_line(demo, tmp_path, monkeypatch):
    """A block that fails DuckDB's checksum once the page's queries reach it (a disk fault): the page
    shows the line `report` gives, naming the file and that the next refresh's publish mends it, not
    DuckDB's bare error. The blocks the page reads depend on the file's layout: looked for."""
    ws, _ = demo
    damaged = tmp_path / "w.duckdb"
    monkeypatch.setattr(sys, "argv", [DASHBOARD, "--warehouse", str(damaged)])
    for block in range(duckdb_blocks(ws.warehouse)):
        with_a_damaged_block(ws.warehouse, damaged, block)
        try:  # the page's queries read the marts: a block they hold, in a file that opens
            conn = duckdb.connect(str(damaged), read_only=True)
        except duckdb.Error:
            continue
        try:
            conn.execute("select * from marts.fct_chats").fetchall()
            conn.execute("select * from marts.fct_traffic").fetchall()
            continue
        except duckdb.Error:
            pass
        finally:
            conn.close()
        at = run_page(AppTest.from_file(DASHBOARD, default_timeout=60))
        if at.error:
            break
    else:
        pytest.fail(f"no block of {ws.warehouse} whose damage the page meets")
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith(f"cannot read the warehouse {damaged}: "), error
    assert error.endswith("(a damaged file is written anew by the next refresh's publish)"), error


# ------------------------------------------------------------------------------------------
# End to end: the real server in headless Chromium
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the dashboard did not answer on {url} in {timeout:.0f}s:\n{log.read_text()}")


def stop_group(proc: subprocess.Popen) -> None:
    """Stops the CLI and the Streamlit server it started (the process group of `proc` only)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of the TCP sockets listening on `port`, from Linux's /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            # the address is written as 32-bit words in host (little-endian) order
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
            found.append(ipaddress.ip_address(raw))
    return found


def test_dashboard_options_build_the_streamlit_command():
    from orchestration.cli.commands import streamlit_command
    from orchestration.cli.main import build_parser

    def command(*argv: str) -> list[str]:
        args = build_parser().parse_args(["dashboard", *argv])
        return streamlit_command(args.port, args.host, Path("/data/w.duckdb"), Path("/data/exports"))

    def option(cmd: list[str], name: str) -> str:
        return cmd[cmd.index(name) + 1]

    default = command()
    assert option(default, "--server.address") == "127.0.0.1" and option(default, "--server.port") == "8501"
    # the warehouse and the exports reach the page as its own arguments, not through the environment
    assert default[-5:] == ["--", "--warehouse", "/data/w.duckdb", "--exports", "/data/exports"]
    # "viewer" drops the developer options (Deploy, rerun, clear cache) from the toolbar and menu
    assert option(default, "--client.toolbarMode") == "viewer"
    shared = command("--host", "0.0.0.0", "--port", "9000")
    assert option(shared, "--server.address") == "0.0.0.0" and option(shared, "--server.port") == "9000"
    assert option(command("--host", "::1"), "--server.address") == "::1"
    assert option(command("--host", "analytics.example.org"), "--server.address") == "analytics.example.org"
    for bad in ("", "a b", "-x", "host;rm"):
        with pytest.raises(SystemExit) as exc:
            command("--host", bad)
        assert exc.value.code == 2


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_dashboard_listens_on_localhost_only_by_default(demo, tmp_path):
    ws, _ = demo
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = environment_without_settings()
    env["HOME"] = str(tmp_path)
    with open(log, "w") as out:
        proc = subprocess.Popen([CLI, "dashboard", "--warehouse", str(ws.warehouse), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", proc, log, timeout=60)
        addresses = listening_addresses(port)
        assert addresses and all(a == ipaddress.ip_address("127.0.0.1") for a in addresses), addresses
    finally:
        stop_group(proc)


def rendered_screenshot(chromium: str, url: str, profile: Path, must_show: list[str],
                        timeout: float = 240) -> tuple[bytes, str]:
    """Opens `url` in headless Chromium and, through the DevTools protocol, waits in real time until
    the page's text shows every string of `must_show` (Streamlit draws its elements from WebSocket
    messages, which a fixed virtual-time budget does not wait for), then takes the screenshot.
    Returns the PNG and the page's text."""
    import base64
    import json

    from websockets.sync.client import connect

    port = free_port()
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--window-size=1400,2400", f"--remote-debugging-port={port}",
         "--remote-allow-origins=*", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        page = None
        while page is None:
            assert time.monotonic() < deadline and browser.poll() is None, "Chromium opened no page"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    page = next((t for t in json.load(r) if t.get("type") == "page"), None)
            except OSError:
                pass
            if page is None:
                time.sleep(0.5)
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            ids = iter(range(1, 1_000_000))

            def call(method: str, **params):
                n = next(ids)
                ws.send(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message.get("id") == n:
                        return message.get("result", {})

            text = ""
            while not all(s in text for s in must_show):
                assert time.monotonic() < deadline, f"the page never showed {must_show}; it showed:\n{text[:2000]}"
                time.sleep(1)
                got = call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
                text = got.get("result", {}).get("value") or ""
            time.sleep(2)  # charts draw after their elements arrive
            shot = call("Page.captureScreenshot", format="png")
            return base64.b64decode(shot["data"]), text
    finally:
        browser.kill()
        browser.wait()


def test_dashboard_serves_a_page_chromium_can_render(demo, chromium, tmp_path):
    ws, _ = demo
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = environment_without_settings()
    env["HOME"] = str(tmp_path)  # Streamlit's ~/.streamlit stays in the test's directory
    with open(log, "w") as out:
        proc = subprocess.Popen([CLI, "dashboard", "--warehouse", str(ws.warehouse), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                start_new_session=True)  # its own group: the streamlit child stops with it
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", proc, log)
        # Headings of sections that come late on the page: when they show, the page has rendered.
        data, text = rendered_screenshot(chromium, f"http://127.0.0.1:{port}", tmp_path / "profile",
                                         must_show=["Outcomes", "Retention", "Agents"])
        assert "Traceback" not in text and "Error" not in text.split("\n")[0]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        # the viewport: the window's width, its height less what headless Chromium keeps for itself
        assert int.from_bytes(data[16:20], "big") == 1400 and int.from_bytes(data[20:24], "big") > 2000
        assert len(data) > 100_000, f"a screenshot of {len(data)} bytes: the page did not render"
        assert proc.poll() is None, log.read_text()
        # The CLI alone stopped (a `kill`, a service manager): the server stops with it, and frees
        # its port (it once kept serving, its parent gone).
        proc.terminate()
        proc.wait(timeout=20)
        deadline = time.monotonic() + 20
        while listening_addresses(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening_addresses(port), "the Streamlit server outlived the dashboard command"
    finally:
        stop_group(proc)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_the_dashboard_of_a_missing_warehouse_is_one_line(tmp_path):
    """interfaces.md: a missing warehouse file is an error (one line, exit 2), not a page that says so."""
    proc = subprocess.run([CLI, "dashboard", "--warehouse", str(tmp_path / "w.duckdb"), "--port", str(free_port())],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.splitlines() == [
        f"assistant-analytics: error: warehouse file not found: {tmp_path / 'w.duckdb'} "
        f"(build it first: `assistant-analytics refresh --all --warehouse {tmp_path / 'w.duckdb'}`)"]


@pytest.mark.parametrize("where", ["taken", "not-this-machine", "unknown-host"])
def test_an_address_the_dashboard_cannot_listen_on_is_one_line(tmp_path, where):
    """Streamlit said so in a log line or a traceback, with exit 1."""
    duckdb.connect(str(tmp_path / "w.duckdb")).close()  # a DuckDB file: the command looks at the address next
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host, port = {"taken": ("127.0.0.1", taken.getsockname()[1]), "not-this-machine": ("10.255.255.1", free_port()),
                      "unknown-host": ("nosuchhost.invalid", free_port())}[where]
        proc = subprocess.run([CLI, "dashboard", "--warehouse", str(tmp_path / "w.duckdb"), "--host", host,
                               "--port", str(port)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"assistant-analytics: error: cannot listen on {host} port {port}: ")


# ------------------------------------------------------------------------------------------
# docs/bi-tools.md's SQL, as an analyst runs it
# ------------------------------------------------------------------------------------------


def bi_tools_statements() -> list[str]:
    """The statements of docs/bi-tools.md's "Querying the marts" example, in order, without the
    comment lines."""
    section = (REPO / "docs" / "bi-tools.md").read_text().split("## Querying the marts", 1)[1]
    block = section.split("```sql\n", 1)[1].split("```", 1)[0]
    code = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def test_the_sql_examples_of_bi_tools_md_give_the_reports_numbers(demo_refresh):
    """Every query of the docs' example runs as written on a read-only connection (as a BI tool
    holds the file) and gives the report's numbers for the same assistant and period: the rates
    rounded as the report rounds them (the docs' macro is the report's), the daily series a row for
    every date, zeros included."""
    ws, _, _ = demo_refresh
    macro, *queries = bi_tools_statements()
    report_macro = (REPO / "orchestration" / "serve" / "queries" / "ratio.sql").read_text()
    report_macro = "\n".join(line for line in report_macro.splitlines() if not line.startswith("--"))
    assert " ".join(macro.split()) == " ".join(report_macro.rstrip().rstrip(";").split())
    conn = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        conn.execute(macro)
        users, handover_by_user, handover_by_row, outcomes, answers, retention, daily = (
            conn.execute(query).fetchall() for query in queries)
    finally:
        conn.close()
    report = ws.report_in_process("acme-support", "2026-11-01", "2026-11-30")
    assert report["users"]["total"] > 0 and report["handover"]["requests"] > 0  # numbers worth comparing
    assert users == [(report["users"]["total"], report["users"]["new"], report["users"]["returning"])]
    expected_handover = [(report["users"]["total"], report["users"]["returning"], report["handover"]["rate"])]
    assert handover_by_user == expected_handover and handover_by_row == expected_handover
    assert outcomes == [tuple(report["outcomes"][k] for k in ("resolved", "abandoned", "escalated",
                                                                "containment_rate"))]
    assert answers == [tuple(report["answers"][k] for k in ("answers", "fallbacks", "fallback_rate",
                                                              "chats_with_fallback"))]
    assert retention == [tuple(report["retention"][k] for k in ("cohort", "returned_7d", "returned_30d"))]
    assert [(day.isoformat(), *counts) for day, *counts in daily] == [
        (d["date"], d["users"], d["new_users"], d["chats"]) for d in report["daily"]]
    assert len(daily) == 30
