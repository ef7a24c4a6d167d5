"""Incremental refreshes give exactly what a full rebuild gives (kpis.md "Chats", docs/refresh.md
and docs/incremental.md).

Two workspaces see the same exports: 8 days of generated demo data (2026-11-15 .. 2026-11-22)
plus hand-made edge cases in an extra file `part-0099.jsonl` of some days.

- Workspace A refreshes one export day at a time, in order (`refresh --day D`), then the platform
  re-delivers 2026-11-17 with changed content and A refreshes that day again.
- Workspace B gets the final export folders and runs `refresh --all --full` once.

Every table and view of the schemas staging, intermediate and marts (and the raw tables) must
hold the same rows in A and B, and the reports must be the same. Along A's way, hand-computed
report numbers check that each edge case really happened.

Every refresh of A must succeed. If the refresh of the re-delivered day fails anyway (a dbt test
can reject the result, and then nothing is published), the first test says so, and the tests
look at what that refresh computed, in its unpublished build file, to show which rows are wrong.

The edge cases all belong to acme-support (Europe/Rome, +01:00 in November, so `at(16, "10:00")`
reads as local time) on a channel of their own, `kiosk` (no demo data; the default 30 minute
timeout), so that `report --channel kiosk` shows them alone. Export days E1..E8 = 11-15..11-22.

  (a) k_start   E2: ka-2 11-16 00:10, ka-3 00:11 (1 chat of 60 s on 11-16).
                E4: late ka-1 11-15 23:55 -> the chat starts 15 min earlier, on 11-15 (960 s).
  (b) k_merge   E2: km-1 14:00, km-2 14:01 | 49 min gap | km-4 14:50, km-5 14:51 -> 2 chats.
                E5: late km-3 14:25 fills the gap -> 1 chat, 14:00 .. 14:51 = 3060 s.
  (c) k_split   E3: ks-1 09:00, ks-2 09:20, ks-3 09:40, ks-4 09:41 -> 1 chat of 2460 s.
                E3 re-delivered without ks-2: 40 min gap -> 2 chats (0 s and 60 s).
  (d) k_first   E5: kf-2 11-19 10:00, kf-3 10:01 -> new user on 11-19.
                E7: late kf-1 11-15 10:00, kf-1b 10:00:30 -> first chat on 11-15: returning on 11-19.
  (e) k_fb      E2: chat 10:59 .. 11:02 with reviewable answers kfb-2 and kfb-4 (agent edge-agent).
                E4 (2 days later): kfb-2 rated positive, kfb-4 negative.
                E6: k_fb2 (another user) retracts the rating of kfb-2 (value null).
  (f) k-dup-1   a user_message: first copy in E3 (k_dup_a, 11-17 12:00, beside kda-2 12:10);
                second copy in E5 with different content (user k_dup_b, 11-17 18:00). The
                re-delivered E3 drops the first copy: k_dup_a keeps only kda-2, k_dup_b appears.
      k-dupfb   a feedback: first copy in E3 rates k-a1-bm (k_ans1, 11-15) positive; second copy
                in E6 with different content rates k-a2-bm (k_ans2, 11-15) negative. The
                re-delivered E3 drops the first copy: k-a1-bm has no rating, k-a2-bm is negative.
  (g) edge-agent named "Edge v1" (agent) on 11-16; E7: renamed "Edge v2" (workflow) on 11-21;
                E8: a late event of 11-17 names it "Edge old" -- older, so the name stays "Edge v2".
  (h) k_gone    only events in E3 (a chat with click, handover, csat, agent, reviewable answer
                rated by k_rater in E4, and a User-Agent nobody else has). The re-delivered E3
                drops them all: k_gone must vanish from every table.
      k_added   a chat that only the re-delivered E3 brings (11-17 20:00).

The outcomes and retention of kpis.md "Beyond the platform" are followed on a channel of their
own, `totem`, in one report over E1..E5 (11-15 .. 11-19):
  (i) k_esc     E2: chat 11-16 16:00 ending with an answer (resolved).
                E4: a late operator message of 11-16 16:00:30 -> escalated.
  (j) k_ans     E5: chat 11-19 16:00, a user message alone (abandoned).
                E6: its answer, 11-19 16:00:20, arrives a day late -> resolved.
  (k) k_ret     E1: chat 11-15 17:00 (new user, resolved). E7: a chat of 11-21 17:00, 6 local days
                later -> the 11-15 cohort's user returned within 7 (and 30) days.

The re-delivered E3 also changes the generated data: it drops the events whose second copy is on
E4 (their first copy moves to the next day), drops every 97th other event, adds copies of E4
events (their first copy moves a day earlier) and puts an altered copy of one of its own events
at the top of an earlier file (the first copy moves within the day).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import Workspace, dbt_by_hand, event, write_export
from conftest import bot_message as bm
from conftest import user_message as um

from orchestration.demo.generator import generate_exports
from orchestration.settings import build_path_for

pytestmark = pytest.mark.slow  # every test here works on a refreshed warehouse

ACME = "acme-support"
KIOSK = "kiosk"
END = dt.date(2026, 11, 22)
N_DAYS = 8
DAYS = [(END - dt.timedelta(days=N_DAYS - 1 - i)).isoformat() for i in range(N_DAYS)]
E1, E2, E3, E4, E5, E6, E7, E8 = DAYS
REDELIVERED = E3
EDGE_FILE = "part-0099.jsonl"
GONE_UA = "EdgeCaseGone/1.0 (Kiosk Terminal; Mobile) unique-to-k_gone"
ASSISTANTS = ["acme-support", "globex-sales", "initech-help", "umbrella-labs"]
SCHEMAS = ("staging", "intermediate", "marts")
# Load and refresh timestamps differ between any two runs and are not results.
LOAD_TIME_COLUMNS = {"loaded_at", "refreshed_at"}
# Not results: `int_users_affected` is the refresh's work queue (the users the *last* build
# recomputed: a single day's users in A, every user in B, by design); `raw.refresh_state` and
# `raw.publishes` (ids each publish draws) are the refresh's bookkeeping. Everything else is compared.
NOT_RESULTS = {("intermediate", "int_users_affected"), ("raw", "refresh_state"), ("raw", "publishes")}
# The work queue itself, emptied by a refresh that succeeds (kept by one that fails).
QUEUE_TABLES = {("raw", "pending_users"), ("staging", "stg_platform__pending_users")}
# dagster-dbt meets a dbt node its manifest does not know: the project was edited mid-refresh.
MANIFEST_RACE = re.compile(r"KeyError: '(test|model|seed|snapshot)\.assistant_analytics\.")


# ----------------------------------------------------------------------------- event shorthands

def at(day: int, hms: str) -> str:
    """An instant in November 2026 written with Rome's winter offset: reads as Rome local time."""
    if len(hms) == 5:
        hms += ":00"
    return f"2026-11-{day:02d}T{hms}+01:00"


def kiosk(user: str, conversation: str, **kw) -> dict:
    return {"assistant": ACME, "channel": KIOSK, "user": user, "conversation": conversation, **kw}


def fb(eid, when, message_id, value, who):
    return event(eid, "feedback", when, message_id=message_id, value=value, **who)


def trig(eid, when, agent_id, kind, who, name=None):
    props = {"agent_id": agent_id, "agent_kind": kind}
    if name is not None:
        props["agent_name"] = name
    return event(eid, "agent_triggered", when, **props, **who)


K_ANS1, K_ANS2 = kiosk("k_ans1", "kan1"), kiosk("k_ans2", "kan2")
K_START, K_MERGE, K_FB = kiosk("k_start", "ka"), kiosk("k_merge", "km"), kiosk("k_fb", "kfb")
K_SPLIT, K_DUP_A, K_DUP_B = kiosk("k_split", "ks"), kiosk("k_dup_a", "kda"), kiosk("k_dup_b", "kdb")
K_GONE = kiosk("k_gone", "kg", user_agent=GONE_UA)
K_RATER, K_RATER2, K_FB2 = kiosk("k_rater", "kr"), kiosk("k_rater2", "kr2"), kiosk("k_fb2", "kfb2")
K_FIRST_OLD, K_FIRST_NEW = kiosk("k_first", "kf-a"), kiosk("k_first", "kf-b")
K_ADDED = kiosk("k_added", "kad")
TOTEM = "totem"
K_ESC, K_ANS, K_RET = (kiosk(u, c, channel=TOTEM) for u, c in (("k_esc", "kes"), ("k_ans", "kan"), ("k_ret", "kre")))
K_RET_LATER = kiosk("k_ret", "kre-later", channel=TOTEM)

EDGE_EVENTS = {
    E1: [
        um("kre-1", at(15, "17:00"), K_RET), bm("kre-2", at(15, "17:00:10"), K_RET),            # (k)
        um("kan1-1", at(15, "10:00"), K_ANS1), bm("k-a1-bm", at(15, "10:01"), K_ANS1, reviewable=True),
        um("kan2-1", at(15, "10:00"), K_ANS2), bm("k-a2-bm", at(15, "10:02"), K_ANS2, reviewable=True),
    ],
    E2: [
        um("kes-1", at(16, "16:00"), K_ESC), bm("kes-2", at(16, "16:00:10"), K_ESC),            # (i)
        um("ka-2", at(16, "00:10"), K_START), bm("ka-3", at(16, "00:11"), K_START),
        um("km-1", at(16, "14:00"), K_MERGE), bm("km-2", at(16, "14:01"), K_MERGE),
        um("km-4", at(16, "14:50"), K_MERGE), bm("km-5", at(16, "14:51"), K_MERGE),
        trig("kfb-0", at(16, "10:59"), "edge-agent", "agent", K_FB, name="Edge v1"),
        um("kfb-1", at(16, "11:00"), K_FB),
        bm("kfb-2", at(16, "11:01"), K_FB, reviewable=True, agent_id="edge-agent", agent_name="Edge v1",
           agent_kind="agent"),
        bm("kfb-4", at(16, "11:02"), K_FB, reviewable=True, agent_id="edge-agent"),
    ],
    E3: [
        um("ks-1", at(17, "09:00"), K_SPLIT), bm("ks-2", at(17, "09:20"), K_SPLIT),
        um("ks-3", at(17, "09:40"), K_SPLIT), bm("ks-4", at(17, "09:41"), K_SPLIT),
        um("k-dup-1", at(17, "12:00"), K_DUP_A), um("kda-2", at(17, "12:10"), K_DUP_A),
        um("kg-1", at(17, "15:00"), K_GONE), bm("kg-2", at(17, "15:01"), K_GONE, reviewable=True),
        event("kg-3", "click", at(17, "15:02"), click_type="link", title="Gone", destination_type="url",
              destination="https://example.com/gone", **K_GONE),
        event("kg-4", "handover_request", at(17, "15:03"), via="button", mode="ticket", **K_GONE),
        trig("kg-5", at(17, "15:04"), "edge-agent", "agent", K_GONE),
        event("kg-6", "csat", at(17, "15:05"), score=4, **K_GONE),
        fb("k-dupfb", at(17, "08:00"), "k-a1-bm", "positive", K_RATER2),
    ],
    E4: [
        event("kes-3", "operator_message", at(16, "16:00:30"), message_id="kes-3", **K_ESC),   # (i) late
        um("ka-1", at(15, "23:55"), K_START),                                  # (a) late, 3 days
        fb("kfb-3", at(18, "09:00"), "kfb-2", "positive", kiosk("k_fb", "kfb-later")),   # (e)
        fb("kfb-5", at(18, "09:01"), "kfb-4", "negative", kiosk("k_fb", "kfb-later")),
        fb("kr-1", at(18, "09:30"), "kg-2", "negative", K_RATER),
    ],
    E5: [
        um("kan-1", at(19, "16:00"), K_ANS),                                                   # (j)
        um("km-3", at(16, "14:25"), K_MERGE),                                  # (b) late, 3 days
        um("kf-2", at(19, "10:00"), K_FIRST_NEW), bm("kf-3", at(19, "10:01"), K_FIRST_NEW),
        um("k-dup-1", at(17, "18:00"), K_DUP_B),                               # (f) 2nd copy, differs
    ],
    E6: [
        bm("kan-2", at(19, "16:00:20"), K_ANS),                                                # (j) late
        fb("kfb-6", at(20, "10:00"), "kfb-2", None, K_FB2),                    # (e) retraction
        fb("k-dupfb", at(17, "08:00"), "k-a2-bm", "negative", K_RATER2),       # (f) 2nd copy, differs
    ],
    E7: [
        um("kre-3", at(21, "17:00"), K_RET_LATER), bm("kre-4", at(21, "17:00:10"), K_RET_LATER),  # (k)
        um("kf-1", at(15, "10:00"), K_FIRST_OLD), bm("kf-1b", at(15, "10:00:30"), K_FIRST_OLD),  # (d)
        trig("kag-1", at(21, "09:00"), "edge-agent", "workflow", kiosk("k_agent", "kag"), name="Edge v2"),
    ],
    E8: [
        trig("kag-2", at(17, "09:00"), "edge-agent", "agent", kiosk("k_agent", "kag-old"), name="Edge old"),
    ],
}

_REMOVED_BY_REDELIVERY = {"ks-2", "k-dup-1", "kg-1", "kg-2", "kg-3", "kg-4", "kg-5", "kg-6", "k-dupfb"}
REDELIVERED_EDGE_EVENTS = [e for e in EDGE_EVENTS[E3] if e["event_id"] not in _REMOVED_BY_REDELIVERY] + [
    um("kad-1", at(17, "20:00"), K_ADDED),
]
# k-dup-1 is removed from E3 only with k_dup_a's copy; kda-2 stays.
assert [e["event_id"] for e in REDELIVERED_EDGE_EVENTS] == ["ks-1", "ks-3", "ks-4", "kda-2", "kad-1"]


# ----------------------------------------------------------------------------- export files

def read_lines(path: Path) -> list[str]:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.decode("utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def event_id_of(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj.get("event_id") if isinstance(obj, dict) and isinstance(obj.get("event_id"), str) else None


def demo_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != EDGE_FILE and p.name.endswith((".jsonl", ".jsonl.gz")))


def redeliver_demo_part(exports: Path) -> dict:
    """Rewrites the generated files of the re-delivered day; returns what it changed."""
    def ids_of(day):
        folder = exports / f"dt={day}"
        return [event_id_of(line) for p in demo_files(folder) for line in read_lines(p)] + \
            [e["event_id"] for e in EDGE_EVENTS.get(day, [])]

    folder = exports / f"dt={REDELIVERED}"
    next_lines = [line for p in demo_files(exports / f"dt={E4}") for line in read_lines(p)]
    next_ids = {event_id_of(line) for line in next_lines} - {None}
    earlier_ids = set(ids_of(E1)) | set(ids_of(E2))
    other_ids = earlier_ids.union(*(ids_of(d) for d in DAYS if d not in (E1, E2, E3)))
    files = {p: read_lines(p) for p in demo_files(folder)}
    copies = {}
    for lines in files.values():
        for line in lines:
            copies[event_id_of(line)] = copies.get(event_id_of(line), 0) + 1
    assert len(files) >= 2, "the demo day should have a gzip part and a plain part"

    moved_to_next_day, dropped, n = set(), set(), 0
    for path, lines in files.items():
        kept = []
        for line in lines:
            eid = event_id_of(line)
            if eid is not None and eid in next_ids and eid not in earlier_ids:
                moved_to_next_day.add(eid)          # the E4 copy becomes the first copy
                continue
            if eid is not None and copies[eid] == 1 and eid not in other_ids:
                n += 1
                if n % 97 == 0:
                    dropped.add(eid)                # the event is gone
                    continue
            kept.append(line)
        files[path] = kept

    # Copies of next-day events: their first copy moves a day earlier.
    added = []
    for line in next_lines:
        eid = event_id_of(line)
        if eid is not None and eid not in copies and eid not in earlier_ids and len(added) < 8:
            added.append(line)
    last = list(files)[-1]
    files[last] = files[last] + added

    # An altered copy of one of the day's own events, at the top of the first file: the first copy
    # moves to another file and line, and its content differs (an extra, ignored field).
    first = list(files)[0]
    template = next(line for line in files[last]
                    if event_id_of(line) is not None and copies.get(event_id_of(line)) == 1
                    and event_id_of(line) not in other_ids)
    altered = json.loads(template)
    altered["redelivery_note"] = "moved"
    files[first] = [json.dumps(altered)] + files[first]

    for path, lines in files.items():
        write_lines(path, lines)
    return {
        "moved_to_next_day": moved_to_next_day,
        "dropped": dropped,
        "moved_earlier": {event_id_of(line) for line in added},
        "moved_within_day": altered["event_id"],
    }


# ----------------------------------------------------------------------------- comparing warehouses

def result_tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema in ('raw', 'staging', 'intermediate', 'marts') "
        "order by 1, 2"
    ).fetchall()
    return [r for r in rows if r not in NOT_RESULTS]


def table_rows(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[list[str], list[tuple]]:
    cols = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table]).fetchall() if r[0] not in LOAD_TIME_COLUMNS]
    select = ", ".join(f'"{c}"' for c in cols)
    rows = conn.execute(f'select {select} from "{schema}"."{table}" order by all').fetchall()
    return cols, rows


def diff_rows(a: list[tuple], b: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    from collections import Counter
    ca, cb = Counter(a), Counter(b)
    return sorted((ca - cb).elements(), key=repr), sorted((cb - ca).elements(), key=repr)


# ----------------------------------------------------------------------------- the two runs

def kiosk_reports(ws: Workspace) -> dict[str, dict]:
    return {day: ws.report_in_process(ACME, day, day, channel=KIOSK) for day in (E1, E2, E3, E5)}


def totem_report(ws: Workspace) -> dict:
    return ws.report_in_process(ACME, E1, E5, channel=TOTEM)


def kiosk_chats(ws: Workspace) -> list[tuple]:
    return ws.query(
        "select user_id, strftime(started_local_at, '%Y-%m-%d %H:%M:%S'), duration_seconds "
        "from marts.fct_chats where assistant_id = ? and channel = ? order by all", [ACME, KIOSK])


def refresh(ws: Workspace, *args: str) -> str | None:
    """Runs a refresh; returns None when it succeeded, else its one-line error (the run goes on:
    the published warehouse stays as it was and the next refresh finishes the pending work)."""
    proc = ws.cli("refresh", *args, check=False)
    if proc.returncode != 0 and MANIFEST_RACE.search(proc.stderr):
        # The dbt project's files changed while the refresh ran (its manifest and dbt's own parse
        # disagree on a node): not about the data. Run it once more.
        proc = ws.cli("refresh", *args, check=False)
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.splitlines() if "assistant-analytics: error" in line]
    return (lines[-1] if lines else proc.stderr.strip().splitlines()[-1]) + f" (exit {proc.returncode})"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    a = Workspace(tmp_path_factory.mktemp("incremental"))
    b = Workspace(tmp_path_factory.mktemp("full"))
    summary = generate_exports(a.exports, days=N_DAYS, seed=11, end_date=END)
    assert [summary["first_day"], summary["last_day"]] == [E1, E8]
    for day, events in EDGE_EVENTS.items():
        write_export(a.exports, day, EDGE_FILE, events)

    steps: dict[str, dict] = {}
    for day in DAYS:
        error = refresh(a, "--day", day)
        steps[day] = {"error": error, "reports": kiosk_reports(a), "chats": kiosk_chats(a), "totem": totem_report(a)}

    # The platform re-delivers E3: the folder is replaced with a corrected copy.
    changes = redeliver_demo_part(a.exports)
    write_export(a.exports, REDELIVERED, EDGE_FILE, REDELIVERED_EDGE_EVENTS)
    error = refresh(a, "--day", REDELIVERED)
    view, unpublished = a, False
    if error and build_path_for(a.warehouse).exists():
        # The refresh refused to publish (e.g. a dbt test failed on the result). What it computed
        # is in its build file: look at a copy of that, so that the edge-case tests below still tell
        # which results are right and which are wrong (the comparison test reports the failure).
        view, unpublished = Workspace(tmp_path_factory.mktemp("incremental_unpublished")), True
        shutil.copy(build_path_for(a.warehouse), view.warehouse)
    steps["redelivered"] = {"error": error, "unpublished": unpublished, "ws": view,
                            "reports": kiosk_reports(view), "chats": kiosk_chats(view),
                            "totem": totem_report(view)}

    shutil.copytree(a.exports, b.exports)
    b.cli("refresh", "--all", "--full")
    steps["full"] = {"error": None, "ws": b, "reports": kiosk_reports(b), "chats": kiosk_chats(b),
                      "totem": totem_report(b)}
    return a, b, steps, changes


def state(steps: dict, step: str) -> dict:
    """Workspace A's reports and kiosk chats right after the refresh of `step` (an export day, or
    "redelivered"); a clear failure when that refresh failed (the warehouse would be stale)."""
    if steps[step]["error"] and not steps[step].get("unpublished"):
        pytest.fail(f"the incremental refresh of step {step} failed, so the published warehouse does not "
                    f"show it: {steps[step]['error']}")
    return steps[step]


# ----------------------------------------------------------------------------- 1. every table

def test_every_table_is_identical_after_incremental_and_full(runs):
    a, b, steps, _ = runs
    problems, path_a, skip = [], a.warehouse, set(NOT_RESULTS)
    # Every incremental refresh must succeed (a failed one publishes nothing).
    problems += [f"the incremental refresh of {step} failed: {s['error']}"
                 for step, s in steps.items() if s["error"] and step not in ("redelivered", "full")]
    if steps["redelivered"]["error"]:
        # The refresh refused to publish (a dbt test failed). Its build file holds what the
        # incremental run computed: compare that, to show which rows are wrong. Its work queue was
        # not cleared (the build failed), so the queue tables are left out of this comparison.
        path_a = build_path_for(a.warehouse)
        skip |= QUEUE_TABLES
        problems.append(f"the incremental refresh of the re-delivered day failed: {steps['redelivered']['error']}\n"
                        f"  comparing its unpublished build file {path_a.name} with the full rebuild:")
    ca = duckdb.connect(str(path_a), read_only=True)
    cb = duckdb.connect(str(b.warehouse), read_only=True)
    try:
        tables_a = [t for t in result_tables(ca) if t not in skip]
        tables_b = [t for t in result_tables(cb) if t not in skip]
        assert tables_a == tables_b
        assert {s for s, _ in tables_a} >= set(SCHEMAS)
        # the daily sums the report reads (rebuilt whole by every refresh) are compared too
        assert ("marts", "fct_chats_daily") in tables_a
        for schema, table in tables_a:
            cols_a, rows_a = table_rows(ca, schema, table)
            cols_b, rows_b = table_rows(cb, schema, table)
            if cols_a != cols_b:
                problems.append(f"{schema}.{table}: columns differ: {cols_a} vs {cols_b}")
                continue
            if rows_a != rows_b:
                only_a, only_b = diff_rows(rows_a, rows_b)
                problems.append(
                    f"{schema}.{table} ({len(rows_a)} rows incremental, {len(rows_b)} full): "
                    f"{len(only_a)} rows only in the incremental build, {len(only_b)} only in the full rebuild\n"
                    f"  columns: {cols_a}\n"
                    + "".join(f"  incremental only: {r}\n" for r in only_a[:6])
                    + "".join(f"  full only:        {r}\n" for r in only_b[:6]))
        assert not problems, "incremental refreshes differ from a full rebuild:\n" + "\n".join(problems)
    finally:
        ca.close()
        cb.close()


def deleted_rows_by_incremental_table(db: Path, manifest: Path) -> dict[str, tuple[int, int]]:
    """Each table dbt builds incrementally (by dbt's manifest): its deleted rows still stored
    (DuckDB's estimated_size counts them, count(*) does not) and its live rows."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    tables = [(n["schema"], n["alias"]) for n in nodes
              if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"]
    assert ("marts", "fct_chats") in tables
    conn = duckdb.connect(str(db), read_only=True)
    try:
        counts = {}
        for schema, table in tables:
            stored = conn.execute("select estimated_size from duckdb_tables() where schema_name = ? "
                                  "and table_name = ?", [schema, table]).fetchone()[0]
            live = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            counts[f"{schema}.{table}"] = (stored - live, live)
        return counts
    finally:
        conn.close()


def due(counts: dict[str, tuple[int, int]]) -> list[str]:
    """The tables of `counts` whose deleted rows are at least half their live rows and 122,880."""
    return sorted(t for t, (deleted, live) in counts.items() if deleted >= 122880 and deleted >= live / 2)


def vacuum_verdict(db: Path, target: Path) -> str:
    """The line macros/vacuum_when_due.sql logs for the build file `db` (run by hand)."""
    proc = dbt_by_hand(db, target, "run-operation", "vacuum_when_due")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "vacuum " in line]
    assert len(lines) == 1, proc.stdout
    return lines[0]


def test_vacuum_is_due_only_once_deleted_rows_have_piled_up(runs, tmp_path):
    """macros/vacuum_when_due.sql, the on-run-start hook of every dbt run: DuckDB's vacuum runs only
    when an incrementally built table stores deleted rows at least half its live rows and a row
    group's worth (122,880). The incremental refreshes' build file (small tables) is not due; then
    fct_chats, grown and two thirds deleted in a copy with DuckDB's vacuum off, is due, alone."""
    a, *_ = runs
    db = tmp_path / "vacuum.duckdb"
    shutil.copy(a.warehouse, db)
    verdict = vacuum_verdict(db, tmp_path / "target")
    assert due(deleted_rows_by_incremental_table(db, tmp_path / "target" / "manifest.json")) == []
    assert verdict.endswith("vacuum not due"), verdict

    conn = duckdb.connect(str(db))
    try:
        conn.execute("set max_vacuum_tasks = 0")  # what the hook sets: deleted rows stay stored
        live = conn.execute("select count(*) from marts.fct_chats").fetchone()[0]
        copies = -(-400_000 // live)
        conn.execute("insert into marts.fct_chats select f.* from marts.fct_chats as f, range(?)", [copies - 1])
        conn.execute("checkpoint")
        # two rows in three of every row group: no row group is emptied (an empty one is dropped)
        conn.execute("delete from marts.fct_chats where rowid % 3 <> 0")
        conn.execute("checkpoint")
    finally:
        conn.close()
    verdict = vacuum_verdict(db, tmp_path / "target")
    counts = deleted_rows_by_incremental_table(db, tmp_path / "target" / "manifest.json")
    assert due(counts) == ["marts.fct_chats"], counts
    assert verdict.endswith("vacuum due: deleted rows at least 0.5 of the live rows and 122880 in marts.fct_chats"), \
        verdict


def test_the_redelivery_really_moved_first_copies(runs):
    """The comparison above is only meaningful if the scenario did what it says."""
    _, b, _, changes = runs
    assert changes["moved_to_next_day"] and changes["dropped"] and changes["moved_earlier"]

    def export_days(ids):
        return dict(b.query("select event_id, cast(export_date as varchar) from intermediate.int_events_deduplicated "
                            "where list_contains(?, event_id)", [sorted(ids)]))

    assert set(export_days(changes["moved_to_next_day"]).values()) == {E4}
    assert set(export_days(changes["moved_earlier"]).values()) == {E3}
    assert not set(export_days(changes["dropped"]))
    moved = b.query("select file_name, line_number from intermediate.int_events_deduplicated where event_id = ?",
                    [changes["moved_within_day"]])
    assert moved == [("part-0000.jsonl.gz", 1)]
    # k-dup-1 and k-dupfb: the second copies (E5, E6) are now the first ones.
    assert b.query("select event_id, user_id, cast(export_date as varchar) from intermediate.int_events_deduplicated "
                   "where event_id in ('k-dup-1', 'k-dupfb') order by 1") == [
        ("k-dup-1", "k_dup_b", E5), ("k-dupfb", "k_rater2", E6)]
    # nothing left pending after a completed refresh
    assert b.query("select count(*) from raw.pending_users") == [(0,)]


def test_the_last_refresh_stamped_exactly_its_affected_users_rows(runs):
    """Incremental models read the rows of the current refresh by refreshed_at (docs/incremental.md):
    after A's last refresh, the rows with the affected set's stamp are the affected users' rows,
    every affected user's rows carry it, and no other row does."""
    a, _, steps, _ = runs
    state(steps, "redelivered")
    stamp = a.query("select max(refreshed_at) from intermediate.int_users_affected")[0][0]
    affected = set(a.query("select assistant_id, user_id from intermediate.int_users_affected"))
    assert stamp is not None and affected
    stamped_tables = a.query(
        "select table_schema, table_name from information_schema.columns "
        "where column_name = 'refreshed_at' and table_name <> 'int_users_affected' order by all")
    assert len(stamped_tables) == 21
    for schema, table in stamped_tables:
        rows = a.query(f'select assistant_id, user_id, refreshed_at = ? as is_current, count(*) '
                       f'from "{schema}"."{table}" group by all', [stamp])
        current = {(r[0], r[1]) for r in rows if r[2]}
        older = {(r[0], r[1]) for r in rows if not r[2]}
        assert current <= affected, f"{schema}.{table}: rows of unaffected users carry the current stamp"
        assert not (older & affected), f"{schema}.{table}: affected users' rows carry an older stamp"
        if table == "int_events_deduplicated":
            assert current, "the re-delivered day's users have no events with the current stamp"


def test_a_backfill_in_runs_of_a_few_days_equals_the_full_rebuild(runs, tmp_path_factory):
    """`refresh --all` cuts a long backfill into runs of ANALYTICS_MAX_DAYS_PER_RUN days (bounded
    memory); run after run, it ends where B's one full rebuild of the same exports ends."""
    _, b, _, _ = runs
    c = Workspace(tmp_path_factory.mktemp("in_runs"))
    shutil.copytree(b.exports, c.exports)
    proc = c.cli("refresh", "--all", env={"ANALYTICS_MAX_DAYS_PER_RUN": "3"})
    assert re.findall(r"run (\d/\d): export days (\S+) \.\. (\S+)", proc.stderr) == [
        ("1/3", E1, "2026-11-17"), ("2/3", "2026-11-18", "2026-11-20"), ("3/3", "2026-11-21", E8)]
    cb = duckdb.connect(str(b.warehouse), read_only=True)
    cc = duckdb.connect(str(c.warehouse), read_only=True)
    try:
        tables = result_tables(cb)
        assert result_tables(cc) == tables
        differ = [f"{schema}.{table}" for schema, table in tables
                  if table_rows(cb, schema, table) != table_rows(cc, schema, table)]
        assert not differ, f"a backfill in runs differs from the full rebuild in {differ}"
    finally:
        cb.close()
        cc.close()


# ----------------------------------------------------------------------------- 2. edge cases by hand
#
# Each test first checks A along its way (before the re-delivery), then the final state: the full
# rebuild B first (the hand numbers hold there), then A after the re-delivered day.

def chats(report):
    return report["chats"]


def users(report):
    u = report["users"]
    return u["total"], u["new"], u["returning"]


def feedback(report):
    f = report["feedback"]
    return f["reviewable"], f["positive"], f["negative"], f["no_feedback"]


def finals(steps):
    """("full", B's final state), then ("incremental", A's state after the re-delivered day)."""
    yield "full rebuild", steps["full"]
    final = state(steps, "redelivered")
    yield ("incremental (its unpublished build: the refresh failed)" if final.get("unpublished") else "incremental",
           final)


def test_a_late_event_moves_a_chat_start_earlier(runs):
    _, _, steps, _ = runs
    # Before E4: k_start's chat is 00:10 .. 00:11 on 11-16 (60 s).
    assert [c for c in state(steps, E3)["chats"] if c[0] == "k_start"] == [("k_start", "2026-11-16 00:10:00", 60.0)]
    # 11-16, kiosk: E2: k_start 60, k_merge 60 + 60, k_fb 180 -> 4 chats, mean 90, 3 users.
    assert chats(state(steps, E2)["reports"][E2]) == {"total": 4, "avg_duration_seconds": 90.0, "per_user": 1.333333}
    assert users(state(steps, E2)["reports"][E2]) == (3, 3, 0)
    # 11-15, kiosk: E1..E3: k_ans1 60, k_ans2 120.
    assert chats(state(steps, E3)["reports"][E1]) == {"total": 2, "avg_duration_seconds": 90.0, "per_user": 1.0}
    # After E4: ka-1 (11-15 23:55) starts it: 23:55 .. 00:11 = 960 s, on 11-15.
    assert [c for c in state(steps, E4)["chats"] if c[0] == "k_start"] == [("k_start", "2026-11-15 23:55:00", 960.0)]
    # 11-16 loses it -> 60, 60, 180: 3 chats, mean 100, 2 users.
    assert chats(state(steps, E4)["reports"][E2]) == {"total": 3, "avg_duration_seconds": 100.0, "per_user": 1.5}
    assert users(state(steps, E4)["reports"][E2]) == (2, 2, 0)
    # 11-15 gains it -> 60, 120, 960: 3 chats, mean 380, 3 users.
    assert chats(state(steps, E4)["reports"][E1]) == {"total": 3, "avg_duration_seconds": 380.0, "per_user": 1.0}
    assert users(state(steps, E4)["reports"][E1]) == (3, 3, 0)
    for name, final in finals(steps):
        assert [c for c in final["chats"] if c[0] == "k_start"] == [("k_start", "2026-11-15 23:55:00", 960.0)], name


def test_b_late_event_fills_a_gap_and_merges_two_chats(runs):
    _, _, steps, _ = runs

    def km(st):
        return sorted(c for c in st["chats"] if c[0] == "k_merge")

    assert km(state(steps, E4)) == [("k_merge", "2026-11-16 14:00:00", 60.0), ("k_merge", "2026-11-16 14:50:00", 60.0)]
    assert chats(state(steps, E4)["reports"][E2])["total"] == 3
    assert km(state(steps, E5)) == [("k_merge", "2026-11-16 14:00:00", 3060.0)]
    # 11-16, kiosk after E5: k_merge 3060, k_fb 180 -> 2 chats, mean 1620; user messages
    # km-1 km-3 km-4 kfb-1 = 4.
    r = state(steps, E5)["reports"][E2]
    assert chats(r) == {"total": 2, "avg_duration_seconds": 1620.0, "per_user": 1.0}
    assert r["messages"] == {"user_messages": 4, "per_user": 2.0, "per_chat": 2.0}
    for name, final in finals(steps):
        assert km(final) == [("k_merge", "2026-11-16 14:00:00", 3060.0)], name
        assert chats(final["reports"][E2]) == {"total": 2, "avg_duration_seconds": 1620.0, "per_user": 1.0}, name


def test_c_redelivery_removes_an_event_and_splits_a_chat(runs):
    _, _, steps, _ = runs

    def ks(st):
        return sorted(c for c in st["chats"] if c[0] == "k_split")

    assert ks(state(steps, E8)) == [("k_split", "2026-11-17 09:00:00", 2460.0)]
    # 11-17, kiosk before the re-delivery: k_split 2460, k_dup_a 600, k_gone 300 -> 3 chats, mean 1120.
    before = state(steps, E8)["reports"][E3]
    assert chats(before) == {"total": 3, "avg_duration_seconds": 1120.0, "per_user": 1.0}
    assert users(before) == (3, 3, 0)
    for name, final in finals(steps):
        # ks-2 gone: 40 min gap -> 2 chats
        assert ks(final) == [("k_split", "2026-11-17 09:00:00", 0.0), ("k_split", "2026-11-17 09:40:00", 60.0)], name
        # k_split 0 + 60, k_dup_a 0 (kda-2), k_dup_b 0, k_added 0 -> 5 chats, mean 12, 4 users;
        # user messages ks-1 ks-3 kda-2 k-dup-1 kad-1.
        after = final["reports"][E3]
        assert chats(after) == {"total": 5, "avg_duration_seconds": 12.0, "per_user": 1.25}, name
        assert users(after) == (4, 4, 0), name
        assert after["messages"] == {"user_messages": 5, "per_user": 1.25, "per_chat": 1.0}, name


def test_d_late_event_moves_a_users_first_chat_earlier(runs):
    _, _, steps, _ = runs
    # 11-19, kiosk: k_first alone. New until E7 brings a chat of 11-15; returning after.
    for step in (E5, E6):
        r = state(steps, step)["reports"][E5]
        assert users(r) == (1, 1, 0)
        assert r["engagement"] == {"new_users": 1, "returning_users": 0, "returning_rate": 0.0}
    for step in (E7, E8):
        r = state(steps, step)["reports"][E5]
        assert users(r) == (1, 0, 1)
        assert r["engagement"] == {"new_users": 0, "returning_users": 1, "returning_rate": 1.0}
    # 11-15 gains the old chat (30 s): k_ans1 60, k_ans2 120, k_start 960, k_first 30 -> mean 292.5
    assert chats(state(steps, E7)["reports"][E1]) == {"total": 4, "avg_duration_seconds": 292.5, "per_user": 1.0}
    for name, final in finals(steps):
        assert users(final["reports"][E5]) == (1, 0, 1), name
        assert chats(final["reports"][E1]) == {"total": 4, "avg_duration_seconds": 292.5, "per_user": 1.0}, name


def test_e_feedback_two_days_later_and_a_retraction_later_still(runs):
    _, _, steps, _ = runs

    def agent_counts(st):
        return [(x["views"], x["positive"], x["negative"]) for x in st["reports"][E2]["agents"]["rows"]]

    # 11-16, kiosk: reviewable kfb-2, kfb-4 (k_fb's chat); (reviewable, +, -, none)
    assert feedback(state(steps, E3)["reports"][E2]) == (2, 0, 0, 2)
    assert feedback(state(steps, E4)["reports"][E2]) == (2, 1, 1, 0)          # kfb-2 +, kfb-4 -
    assert state(steps, E4)["reports"][E2]["feedback"]["chats_by_class"]["balanced"] == 1
    assert agent_counts(state(steps, E4)) == [(1, 1, 1)]                       # the answers' agent
    for step in (E6, E7, E8):
        assert feedback(state(steps, step)["reports"][E2]) == (2, 0, 1, 1)    # kfb-2 retracted by k_fb2
        assert state(steps, step)["reports"][E2]["feedback"]["chats_by_class"]["only_negative"] == 1
        assert agent_counts(state(steps, step)) == [(1, 0, 1)]
    for name, final in finals(steps):
        assert feedback(final["reports"][E2]) == (2, 0, 1, 1), name
        assert agent_counts(final) == [(1, 0, 1)], name


def test_f_duplicate_user_message_whose_first_copy_is_removed(runs):
    _, _, steps, _ = runs

    def dup(st):
        return sorted(c for c in st["chats"] if c[0] in ("k_dup_a", "k_dup_b"))

    # Before: the E3 copy (k_dup_a 12:00) counts; the E5 copy (k_dup_b) is dropped as a duplicate.
    assert dup(state(steps, E5)) == dup(state(steps, E8)) == [("k_dup_a", "2026-11-17 12:00:00", 600.0)]
    # After: the E5 copy is the first one.
    for name, final in finals(steps):
        assert dup(final) == [("k_dup_a", "2026-11-17 12:10:00", 0.0), ("k_dup_b", "2026-11-17 18:00:00", 0.0)], name


def test_f_duplicate_feedback_whose_first_copy_is_removed(runs):
    _, _, steps, _ = runs
    # 11-15, kiosk: reviewable k-a1-bm (k_ans1) and k-a2-bm (k_ans2); (reviewable, +, -, none)
    assert feedback(state(steps, E1)["reports"][E1]) == (2, 0, 0, 2)
    for step in (E3, E6, E8):
        assert feedback(state(steps, step)["reports"][E1]) == (2, 1, 0, 1)    # first copy: k-a1-bm +
    # The re-delivered E3 drops that copy: the E6 copy (k-a2-bm -) is now the first one.
    for name, final in finals(steps):
        assert feedback(final["reports"][E1]) == (2, 0, 1, 1), (
            f"{name}: k-a2-bm (k_ans2's answer, on another export day) is now rated by the surviving copy "
            "of k-dupfb")


def test_g_agent_renamed_later(runs):
    _, _, steps, _ = runs

    def agent(st):
        return [(x["agent_id"], x["name"], x["kind"]) for x in st["reports"][E2]["agents"]["rows"]]

    for step in (E2, E3, E4, E5, E6):
        assert agent(state(steps, step)) == [("edge-agent", "Edge v1", "agent")]
    # 11-21: renamed; the late event of E8 (11-17) is older and changes nothing.
    for step in (E7, E8):
        assert agent(state(steps, step)) == [("edge-agent", "Edge v2", "workflow")]
    for name, final in finals(steps):
        assert agent(final) == [("edge-agent", "Edge v2", "workflow")], name


def test_i_j_k_late_events_change_outcomes_and_retention(runs):
    _, _, steps, _ = runs

    def outcomes(st):
        o = st["totem"]["outcomes"]
        return o["resolved"], o["abandoned"], o["escalated"]

    def retention(st):
        r = st["totem"]["retention"]
        return r["cohort"], r["returned_7d"], r["returned_30d"], r["rate_7d"]

    # totem, 11-15 .. 11-19: (resolved, abandoned, escalated)
    assert outcomes(state(steps, E1)) == (1, 0, 0)                   # k_ret
    assert outcomes(state(steps, E3)) == (2, 0, 0)                   # + k_esc, resolved
    assert outcomes(state(steps, E4)) == (1, 0, 1)                   # the late operator message
    assert outcomes(state(steps, E5)) == (1, 1, 1)                   # + k_ans, a user message alone
    assert outcomes(state(steps, E6)) == (2, 0, 1)                   # its late answer
    # cohort: the users whose first chat is in 11-15 .. 11-19; k_ret returns on 11-21 (E7)
    assert retention(state(steps, E1)) == (1, 0, 0, 0.0)
    assert retention(state(steps, E6)) == (3, 0, 0, 0.0)
    assert retention(state(steps, E7)) == (3, 1, 1, 0.333333)        # 1 / 3 = 0.3333333
    for name, final in finals(steps):
        assert outcomes(final) == (2, 0, 1), name
        # answers kre-2, kes-2, kan-2; no fallback
        assert final["totem"]["answers"] == {"answers": 3, "fallbacks": 0, "fallback_rate": 0.0,
                                             "chats_with_fallback": 0}, name
        assert retention(final) == (3, 1, 1, 0.333333), name


def rows_left_by(ws: Workspace, user_id: str, user_agent: str, skip=frozenset()) -> list[str]:
    """Tables (every schema) that still hold rows of the user, or its User-Agent string."""
    conn = duckdb.connect(str(ws.warehouse), read_only=True)
    left = []
    try:
        for schema, table in result_tables(conn):
            if (schema, table) in skip:
                continue
            cols = {r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ?", [schema, table]).fetchall()}
            for col, value in (("user_id", user_id), ("user_agent", user_agent)):
                if col in cols:
                    n = conn.execute(f'select count(*) from "{schema}"."{table}" where "{col}" = ?',
                                     [value]).fetchone()[0]
                    if n:
                        left.append(f"{schema}.{table}: {n} rows with {col} = {value!r}")
    finally:
        conn.close()
    return left


def test_h_user_whose_only_events_are_removed_disappears(runs):
    _, _, steps, _ = runs
    before = state(steps, E8)["reports"][E3]
    assert before["csat"]["votes"] == 1 and before["handover"]["requests"] == 1
    assert [r["destination"] for r in before["clicks"]["rows"]] == ["https://example.com/gone"]
    assert feedback(before) == (1, 0, 1, 0)                            # kg-2, rated - by k_rater
    assert [x["agent_id"] for x in before["agents"]["rows"]] == ["edge-agent"]
    for name, final in finals(steps):
        after = final["reports"][E3]
        assert after["csat"]["votes"] == 0 and after["handover"]["requests"] == 0, name
        assert after["clicks"]["rows"] == [] and after["agents"]["rows"] == [], name
        assert feedback(after) == (0, 0, 0, 0), name
        # (a failed build keeps its work queue: the queue tables are not results)
        left = rows_left_by(final["ws"], "k_gone", GONE_UA, QUEUE_TABLES if final.get("unpublished") else frozenset())
        assert not left, f"{name}: k_gone's removed events still show: {left}"


# ----------------------------------------------------------------------------- 3. reports

REPORT_CASES = [
    (assistant, date_from, date_to, channel)
    for assistant in ASSISTANTS
    for date_from, date_to, channel in [
        ("2026-11-14", E8, None), (E3, E3, None), (E2, E4, "web"), (E5, E6, "whatsapp"), (E1, E8, "voice"),
    ]
] + [(ACME, E1, E8, KIOSK), (ACME, E3, E3, KIOSK), (ACME, E1, E1, None), (ACME, E4, E4, None)]


def short(x, limit=300) -> str:
    text = json.dumps(x)
    return text if len(text) <= limit else text[:limit] + "..."


def test_reports_are_identical(runs):
    _, b, steps, _ = runs
    a = state(steps, "redelivered")["ws"]
    different = []
    for case in REPORT_CASES:
        ra, rb = a.report_in_process(*case), b.report_in_process(*case)
        if ra != rb:
            for key in (k for k in ra if ra[k] != rb.get(k)):
                if isinstance(ra[key], dict) and isinstance(rb.get(key), dict):
                    sub = [k for k in ra[key] if ra[key][k] != rb[key].get(k)]
                    ra_k, rb_k = {k: ra[key][k] for k in sub}, {k: rb[key].get(k) for k in sub}
                else:
                    ra_k, rb_k = ra[key], rb.get(key)
                different.append(f"{case} {key}: incremental {short(ra_k)} / full {short(rb_k)}")
    assert not different, (
        "reports differ" + (" (incremental: its unpublished build, the refresh failed)"
                            if steps["redelivered"]["unpublished"] else "") + ":\n" + "\n".join(different))
    # the comparison covered real numbers
    assert a.report(ACME, "2026-11-14", E8)["chats"]["total"] > 100
