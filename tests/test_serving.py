"""Serving the warehouse (issue "Serving the warehouse"), tested with real processes.

The refresh writes a private build file and publishes a finished copy over `--warehouse` by atomic
rename. What is checked here, through `assistant-analytics` run as a subprocess:

* a reader holding the published file open (plain DuckDB, as a BI tool holds it), and a reader
  opening it anew in a loop (as this project's readers open it: `connect_published`), never error
  and only ever see a consistent state (the one before the refresh or the one after it);
* a refresh killed with SIGKILL (its whole process group, dbt included) at several points leaves
  the published warehouse readable and byte-for-byte unchanged, and the next refresh ends with
  exactly the tables of a workspace that was never killed;
* two refreshes at once: with ANALYTICS_LOCK_TIMEOUT_SECONDS=1 the second fails with exit 2 and
  one clear line; with a long timeout both succeed and the result is that of a single refresh; no
  half-built state is published meanwhile;
* message text never leaves the raw layer;
* `report` says when the period has rejected lines.

One set of demo exports (8 export days) is shared. A reference workspace is refreshed once with the
first 5 days ("base") and then with the last 3 ("after"); other workspaces start from a copy of the
base files (published warehouse and build file, as a finished refresh leaves them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import CLI, Workspace, environment_without_settings, event, process_group_gone, write_export

from orchestration.demo.generator import generate_exports

pytestmark = pytest.mark.slow  # every test here works on a refreshed warehouse

FIRST_DAY = dt.date(2026, 11, 15)
LAST_DAY = dt.date(2026, 11, 22)
BASE_LAST = dt.date(2026, 11, 19)  # base: 11-15 .. 11-19; the refresh under test: 11-20 .. 11-22
NEW_FROM = dt.date(2026, 11, 20)
MODEL_SCHEMAS = ("raw", "staging", "intermediate", "marts")
RUN_TIMEOUT = 900

# One row; the same SQL runs in the reader subprocesses and in the test. The first columns are the
# numbers, the last ones say whether the state is consistent (marts built from what raw holds).
OBSERVE_SQL = """
select
    (select count(*) from raw.export_days) as export_days,
    (select cast(max(export_date) as varchar) from raw.export_days) as last_export_day,
    (select count(*) from raw.events) as raw_events,
    (select count(*) from marts.fct_chats) as chats,
    (select round(sum(duration_seconds), 3) from marts.fct_chats) as chat_seconds,
    (select sum(user_messages) from marts.fct_messages) as user_messages,
    (select count(*) from marts.data_quality_daily) as dq_days,
    -- consistency
    (select sum(user_messages) from marts.fct_messages)
        = (select sum(user_messages) from marts.dim_chats) as messages_match_dim_chats,
    (select count(*) from marts.fct_messages) = (select count(*) from marts.dim_chats)
        and (select count(*) from marts.fct_chats) = (select count(*) from marts.dim_chats) as chats_match,
    (select count(*) from raw.export_days d
     where not exists (select 1 from marts.data_quality_daily q where q.export_date = d.export_date)) = 0
        as every_day_has_dq_row,
    (select sum(lines_read) from raw.export_days)
        = (select sum(lines_read) from marts.data_quality_daily) as dq_lines_match
"""
N_CONSISTENCY = 4

READER = r"""
import json, os, sys, time
from pathlib import Path
import duckdb
from orchestration.publish.publish import connect_published
path, out, stop, mode, sql = sys.argv[1:6]
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
with open(out, "a") as f:
    while not os.path.exists(stop):
        try:
            conn = held or connect_published(Path(path))
            try:
                row = conn.execute(sql).fetchone()
            finally:
                if held is None:
                    conn.close()
            rec = {"t": time.time(), "obs": [v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
                                             for v in row]}
        except Exception as exc:
            rec = {"t": time.time(), "error": f"{type(exc).__name__}: {exc}"}
        f.write(json.dumps(rec) + "\n")
        f.flush()
        time.sleep(0.05)
"""


# ---------------------------------------------------------------------------------------------
# helpers


def observe(path: Path) -> list:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        row = conn.execute(OBSERVE_SQL).fetchone()
    finally:
        conn.close()
    return json.loads(json.dumps([v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
                                  for v in row]))


def consistent(obs: list) -> bool:
    return all(v is True for v in obs[-N_CONSISTENCY:])


def _norm(v):
    if isinstance(v, float):
        return round(v, 9)
    return v


# The stamps of the publishes that made a file (build_file.py): ids drawn anew by each publish.
PUBLISH_STAMPS = "raw.publishes"


def tables(path: Path, schemas=MODEL_SCHEMAS, drop_columns=("loaded_at", "refreshed_at")) -> dict[str, list]:
    """Every table and view of the schemas: sorted rows, without the columns that hold a wall clock,
    nor the publish stamps."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        rels = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) order by 1, 2", [list(schemas)]).fetchall()
        out = {}
        for schema, name in rels:
            if f"{schema}.{name}" == PUBLISH_STAMPS:
                continue
            cols = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, name]).fetchall() if c not in drop_columns]
            sel = ", ".join(f'"{c}"' for c in cols)
            rows = conn.execute(f'select {sel} from "{schema}"."{name}"').fetchall()
            out[f"{schema}.{name}"] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        conn.close()


def file_digest(path: Path) -> str:
    """The file's bytes: equal digests are an unchanged file, every table's rows included."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables_changed(path: Path, before: Path) -> list[str]:
    """For a failure's message: the tables (every schema) whose rows differ from those of `before`."""
    conn = duckdb.connect(str(before), read_only=True)
    try:
        schemas = [n for (n,) in conn.execute("select schema_name from duckdb_schemas() where not internal").fetchall()]
    finally:
        conn.close()
    return diff_tables(tables(path, schemas=schemas, drop_columns=()), tables(before, schemas=schemas, drop_columns=()))


# The users the last run recomputed: its work list, not a result. Runs that end in the same state
# may have shared the work differently (two runs in turn, or a full rebuild for an incremental one).
WORK_QUEUE = "intermediate.int_users_affected"


def diff_results(got: dict, want: dict) -> list[str]:
    """diff_tables without the work queue."""
    return diff_tables({k: v for k, v in got.items() if k != WORK_QUEUE},
                       {k: v for k, v in want.items() if k != WORK_QUEUE})


def diff_tables(got: dict, want: dict) -> list[str]:
    problems = []
    for name in sorted(set(got) | set(want)):
        if name not in got:
            problems.append(f"{name}: missing")
        elif name not in want:
            problems.append(f"{name}: unexpected table")
        elif got[name] != want[name]:
            g, w = set(got[name]), set(want[name])
            problems.append(f"{name}: {len(got[name])} rows vs {len(want[name])} expected; "
                            f"{len(g - w)} unexpected, {len(w - g)} missing; e.g. "
                            f"{sorted(g - w, key=repr)[:1]} / {sorted(w - g, key=repr)[:1]}")
    return problems


def cli_env(ws: Workspace, **extra: str) -> dict:
    env = environment_without_settings()
    env["DAGSTER_HOME"] = str(ws.dagster_home)
    env.update(extra)
    return env


def refresh_args(first: dt.date, last: dt.date) -> list[str]:
    return ["refresh", "--from", first.isoformat(), "--to", last.isoformat()]


class Running:
    """`assistant-analytics ...` in its own session (process group), stderr lines with timestamps."""

    def __init__(self, ws: Workspace, *args: str, **env: str):
        self.ws = ws
        cmd = [CLI, args[0], "--warehouse", str(ws.warehouse), "--exports", str(ws.exports), *args[1:]]
        self.started = time.monotonic()
        self.stdout = open(ws.root / f"stdout-{time.time_ns()}.txt", "w")
        # SIGINT at its default, as a terminal starts a command (a suite started in the background
        # of a shell has it ignored, and its children would inherit that)
        self.proc = subprocess.Popen(cmd, stdout=self.stdout, stderr=subprocess.PIPE, text=True,
                                     env=cli_env(ws, **env), cwd=ws.root, start_new_session=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def first(self, needle: str) -> float | None:
        with self._cond:
            return next((t for t, line in self.lines if needle in line), None)

    def wait_for(self, needle: str, timeout: float = RUN_TIMEOUT) -> float | None:
        """Monotonic time of the first stderr line containing needle; None if the process ended first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hit = next((t for t, line in self.lines if needle in line), None)
                if hit is not None:
                    return hit
                if self.proc.poll() is not None and not self._reader.is_alive():
                    return None
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {needle!r} after {timeout}s:\n{self.stderr}")
                self._cond.wait(0.05)

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # start_new_session: pgid == pid
        except ProcessLookupError:
            pass

    def interrupt_group(self) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(10)
        self.stdout.close()
        return rc

    def group_gone(self, timeout: float = 15) -> bool:
        return process_group_gone(self.proc, timeout)

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(line for _, line in self.lines)


def clone(base: Path, root: Path, exports: Path) -> Workspace:
    """A workspace whose warehouse and build file are copies of a finished base refresh."""
    root.mkdir(parents=True)
    (root / "exports").symlink_to(exports, target_is_directory=True)
    ws = Workspace(root)
    for f in base.iterdir():
        if f.name.endswith((".duckdb", ".duckdb.wal")):
            shutil.copy2(f, root / f.name)
    return ws


class Reference:
    def __init__(self, tmp: Path):
        self.exports = tmp / "exports"
        summary = generate_exports(self.exports, days=8, seed=11, end_date=LAST_DAY)
        assert summary["first_day"] == FIRST_DAY.isoformat()
        self.ws = Workspace(tmp / "reference")
        self.ws.root.mkdir()
        (self.ws.root / "exports").symlink_to(self.exports, target_is_directory=True)
        self.ws.cli(*refresh_args(FIRST_DAY, BASE_LAST), timeout=RUN_TIMEOUT)
        self.base = tmp / "base"
        self.base.mkdir()
        for f in self.ws.root.iterdir():
            if f.name.endswith((".duckdb", ".duckdb.wal")):
                shutil.copy2(f, self.base / f.name)
        self.base_warehouse = self.base / self.ws.warehouse.name
        self.before = observe(self.base_warehouse)
        self.before_digest = file_digest(self.base_warehouse)
        run = Running(self.ws, *refresh_args(NEW_FROM, LAST_DAY))
        assert run.finish() == 0, run.stderr
        self.after = observe(self.ws.warehouse)
        self.after_tables = tables(self.ws.warehouse)
        self.tmp = tmp
        self._n = 0

    def clone(self, label: str) -> Workspace:
        self._n += 1
        return clone(self.base, self.tmp / f"{label}-{self._n}", self.exports)


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Reference:
    r = Reference(tmp_path_factory.mktemp("serving"))
    # The states the tests tell apart must differ and be consistent.
    assert consistent(r.before) and consistent(r.after), (r.before, r.after)
    assert r.before[1] == BASE_LAST.isoformat() and r.after[1] == LAST_DAY.isoformat()
    assert r.before[:N_CONSISTENCY] != r.after[:N_CONSISTENCY]
    return r


def start_reader(ws: Workspace, mode: str, label: str) -> tuple[subprocess.Popen, Path, Path]:
    out, stop = ws.root / f"reader-{label}.jsonl", ws.root / f"reader-{label}.stop"
    proc = subprocess.Popen([sys.executable, "-c", READER, str(ws.warehouse), str(out), str(stop), mode,
                             OBSERVE_SQL], cwd=ws.root)
    return proc, out, stop


def read_observations(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def wait_for_observations(out: Path, n: int = 2, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(read_observations(out)) < n:
        assert time.monotonic() < deadline, f"reader wrote nothing to {out}"
        time.sleep(0.1)


def stop_reader(proc: subprocess.Popen, stop: Path) -> list[dict]:
    stop.touch()
    proc.wait(30)
    assert proc.returncode == 0
    return read_observations(stop.with_suffix(".jsonl"))


# ---------------------------------------------------------------------------------------------
# 1. readers during a refresh


def test_readers_during_refresh_never_fail_and_see_before_or_after(ref: Reference):
    ws = ref.clone("readers")
    assert observe(ws.warehouse) == ref.before
    holder, holder_out, holder_stop = start_reader(ws, "hold", "hold")
    poller, poller_out, poller_stop = start_reader(ws, "poll", "poll")
    try:
        wait_for_observations(holder_out)
        wait_for_observations(poller_out)
        t_start = time.time()
        proc = ws.cli(*refresh_args(NEW_FROM, LAST_DAY), check=False, timeout=RUN_TIMEOUT)
        t_end = time.time()
        time.sleep(1.0)  # let the poller open the published file anew
    finally:
        held = stop_reader(holder, holder_stop)
        polled = stop_reader(poller, poller_stop)

    assert proc.returncode == 0, f"refresh failed while readers held the warehouse:\n{proc.stderr}"
    for label, obs in (("held connection", held), ("new connections", polled)):
        errors = [o["error"] for o in obs if "error" in o]
        assert not errors, f"{label}: reader errors during the refresh: {errors[:3]}"
        during = [o for o in obs if t_start <= o["t"] <= t_end]
        assert len(during) >= 10, f"{label}: only {len(during)} observations during the refresh"
        states = [o["obs"] for o in obs]
        odd = [s for s in states if s not in (ref.before, ref.after)]
        assert not odd, f"{label}: states other than before/after: {odd[:2]}\nbefore={ref.before}\nafter={ref.after}"
    # The held connection keeps the file it opened; new connections move from before to after, once.
    assert all(o["obs"] == ref.before for o in held)
    polled_states = [o["obs"] == ref.after for o in polled]
    assert polled_states[0] is False and polled_states[-1] is True
    flips = sum(1 for a, b in zip(polled_states, polled_states[1:]) if a != b)
    assert flips == 1, "a new connection saw the old state after one had seen the new state"
    # A new connection after the refresh sees the new days.
    assert observe(ws.warehouse) == ref.after
    assert ws.query("select max(export_date) from raw.export_days") == [(LAST_DAY,)]


# ---------------------------------------------------------------------------------------------
# 2. SIGKILL at several points


def _publish_tmp_exists(ws: Workspace, pid: int) -> bool:
    return (ws.root / f".{ws.warehouse.name}.publish-{pid}.tmp").exists()


def test_refresh_killed_at_any_point_leaves_the_warehouse_unchanged_and_the_next_run_finishes(ref: Reference):
    ws = ref.clone("killed")

    # (name, how to wait for the moment to kill, may the run have finished/published already?)
    def at_startup(run):
        time.sleep(2.0)

    def during_load(run):
        assert run.wait_for("loaded export day") is not None, run.stderr

    def on_line(needle):
        def wait(run):
            assert run.wait_for(needle) is not None, f"no {needle!r}:\n{run.stderr}"
        return wait

    def during_publish(run):
        assert run.wait_for("Done. PASS=") is not None, run.stderr
        while run.proc.poll() is None and not _publish_tmp_exists(ws, run.proc.pid):
            time.sleep(0.0005)

    # With ANALYTICS_VERBOSE=1 dbt's progress lines come on stderr: kill points follow the build.
    kill_points = [
        ("startup (imports, before the load)", at_startup, False),
        ("load (first export day loaded)", during_load, False),
        ("dbt: building intermediate.int_events_deduplicated",
         on_line("START sql incremental model intermediate.int_events_deduplicated"), False),
        ("dbt: marts.dim_chats built, the other marts not yet",
         on_line("OK created sql incremental model marts.dim_chats"), False),
        ("dbt finished, before the pending users are cleared and the file published",
         on_line("Done. PASS="), True),
        ("publish (copy to the temporary file)", during_publish, True),
    ]
    killed_at = []
    for name, wait, may_finish in kill_points:
        run = Running(ws, *refresh_args(NEW_FROM, LAST_DAY), ANALYTICS_VERBOSE="1")
        try:
            wait(run)
        finally:
            run.kill_group()
        rc = run.finish()
        assert run.group_gone(), f"{name}: processes of the killed refresh still running"
        if rc == -signal.SIGKILL:
            killed_at.append(name)
        assert rc == -signal.SIGKILL or may_finish, \
            f"{name}: the refresh ended (rc {rc}) before the kill:\n{run.stderr}"
        if file_digest(ws.warehouse) != ref.before_digest:
            # Only a kill after the rename may leave the new state, and then the whole of it.
            assert may_finish and observe(ws.warehouse) == ref.after, (
                f"killed at {name}: the published warehouse changed: "
                f"{tables_changed(ws.warehouse, ref.base_warehouse)[:5]}")
        else:
            assert observe(ws.warehouse) == ref.before  # readable, same numbers
    # every point before dbt's end was a kill, not a finished run
    assert len(killed_at) >= sum(not may_finish for _, _, may_finish in kill_points), killed_at

    ws.cli(*refresh_args(NEW_FROM, LAST_DAY), timeout=RUN_TIMEOUT)
    assert observe(ws.warehouse) == ref.after
    problems = diff_tables(tables(ws.warehouse), ref.after_tables)
    assert not problems, "after kills and a completed refresh, tables differ from an uninterrupted run:\n" + \
        "\n".join(problems)
    assert ws.query("select count(*) from raw.pending_users") == [(0,)]
    # No duplicates and no lost days.
    assert ws.query("select count(*), count(distinct export_date) from raw.export_days") == [(8, 8)]
    assert ws.query("select count(*) - count(distinct event_id) from intermediate.int_events_deduplicated") == [(0,)]


@pytest.mark.parametrize("during, line", [
    ("load", "loaded export day"),
    ("dbt", "START sql incremental model intermediate.int_events_deduplicated"),
])
def test_ctrl_c_during_the_run_is_an_interrupted_refresh(ref: Reference, during, line):
    """Ctrl-C in the terminal while the run loads or dbt builds: "interrupted" and exit 130, as
    before the run starts, with no traceback, the refresh recorded as interrupted, the published
    file unchanged. (It was exit 2 with "failed: ... DagsterExecutionInterruptedError", or DuckDB's
    "Query interrupted".)"""
    ws = ref.clone(f"interrupted-{during}")
    run = Running(ws, *refresh_args(NEW_FROM, LAST_DAY), ANALYTICS_VERBOSE="1")
    try:
        assert run.wait_for(line) is not None, run.stderr
    finally:
        run.interrupt_group()
    rc = run.finish()
    assert run.group_gone(), "processes of the interrupted refresh still running"
    assert rc == 130, (rc, run.stderr)
    assert run.stderr.strip().splitlines()[-1] == "assistant-analytics: interrupted", run.stderr
    # nothing of Python's above it: the terminal's Ctrl-C reached every process of the refresh, and
    # Dagster's capture of a step's output (a `tail` and a Python watcher per step, the default of
    # a user's Dagster home) printed a KeyboardInterrupt traceback each
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr, run.stderr
    assert file_digest(ws.warehouse) == ref.before_digest, tables_changed(ws.warehouse, ref.base_warehouse)[:5]
    status = json.loads(ws.cli("status", "--format", "json").stdout)
    assert status["last_refresh"]["outcome"] == "interrupted", status["last_refresh"]


def test_a_full_rebuild_killed_after_its_load_is_finished_by_the_next_refresh(ref: Reference):
    """A full rebuild's load does not find which users each day changes (the build recomputes them
    all): it records the full rebuild as owed first, so a refresh after a kill rebuilds every user."""
    ws = ref.clone("fullkilled")
    run = Running(ws, "refresh", "--all", "--full", ANALYTICS_VERBOSE="1")
    try:
        # a day the published marts never saw, loaded without its users marked pending
        assert run.wait_for(f"loaded export day {NEW_FROM}") is not None, run.stderr
    finally:
        run.kill_group()
    run.finish()
    assert run.group_gone()
    assert run.first("dbt build") is None, f"the kill came after the load:\n{run.stderr}"
    assert observe(ws.warehouse) == ref.before
    # `status` says so before the next refresh does it
    assert json.loads(ws.cli("status", "--format", "json").stdout)["pending"]["unbuilt_work"]["full_rebuild"] is True

    # the days after it: NEW_FROM's users are recomputed only if the full rebuild is still owed
    proc = ws.cli(*refresh_args(NEW_FROM + dt.timedelta(days=1), LAST_DAY), timeout=RUN_TIMEOUT)
    assert "a full rebuild was started and did not finish: rebuilding every model" in proc.stderr, proc.stderr
    assert observe(ws.warehouse) == ref.after
    problems = diff_results(tables(ws.warehouse), ref.after_tables)
    assert not problems, "the refresh after the killed full rebuild differs from a finished one:\n" + \
        "\n".join(problems)
    assert ws.query("select count(*) from raw.pending_users") == [(0,)]


# ---------------------------------------------------------------------------------------------
# 4 and 5. personal text stays raw; the data-quality line

MARKER = "zqx-PERSONAL-7f3a91-marker"
DAY_A, DAY_B = "2026-11-22", "2026-11-23"


def _chat(prefix: str, day: str, user: str, channel: str, text: str) -> list[dict]:
    conv = f"conv-{prefix}"
    return [
        event(f"{prefix}-1", "user_message", f"{day}T10:00:00Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-1", text=text, input="text"),
        event(f"{prefix}-2", "bot_message", f"{day}T10:00:05Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-2", reviewable=True, is_fallback=False),
        event(f"{prefix}-3", "feedback", f"{day}T10:00:30Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-2", value="negative"),
        event(f"{prefix}-4", "user_message", f"{day}T10:01:00Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-4", text=f"my name is {text} and my email is {text}@example.com"),
        event(f"{prefix}-5", "csat", f"{day}T10:02:00Z", user=user, channel=channel, conversation=conv, score=2),
    ]


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("texts"))
    lines = (_chat("a", DAY_A, "u-a", "web", MARKER) + _chat("b", DAY_A, "u-b", "whatsapp", MARKER)
             + _chat("c", DAY_A, "u-c", "voice", f"prefix {MARKER} suffix"))
    # An unknown event type and an extra property carrying text; a rejected line carrying text.
    lines.append(event("x-1", "user_note", f"{DAY_A}T11:00:00Z", user="u-a", conversation="conv-a", text=MARKER))
    lines.append(event("x-2", "user_message", f"{DAY_A}T11:00:10Z", user="u-a", conversation="conv-a",
                       message_id="m-x-2", text="ok", comment=MARKER))
    bad = event("x-3", "user_message", f"{DAY_A}T11:00:20Z", user="u-a", conversation="conv-a",
                message_id="m-x-3", text=MARKER, input="telepathy")
    lines.append(bad)
    write_export(ws.exports, DAY_A, "part-0000.jsonl", lines)
    write_export(ws.exports, DAY_B, "part-0000.jsonl", _chat("d", DAY_B, "u-d", "web", "hello"))
    ws.cli("refresh", "--all", timeout=RUN_TIMEOUT)
    return ws


def test_message_text_never_leaves_the_raw_layer(texts: Workspace):
    assert texts.query("select count(*) from raw.events where cast(properties as varchar) like ?",
                       [f"%{MARKER}%"])[0][0] >= 6
    assert texts.query("select count(*) from raw.rejected_lines where raw_line like ?", [f"%{MARKER}%"]) == [(1,)]
    assert texts.query("select count(*) from marts.fct_messages") != [(0,)]  # the chats were built

    cols = texts.query("""
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema in ('staging', 'intermediate', 'marts') order by 1, 2, 3""")
    assert cols
    named_text = [c[:3] for c in cols if c[2].lower() in ("text", "message_text", "user_text")]
    assert not named_text, f"columns named text: {named_text}"
    found = []
    for schema, table, column, data_type in cols:
        if data_type.startswith(("VARCHAR", "JSON")) or data_type.endswith("[]") or data_type.startswith(
                ("STRUCT", "MAP", "UNION")):
            n = texts.query(f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ?',
                            [f"%{MARKER}%"])[0][0]
            if n:
                found.append(f"{schema}.{table}.{column} ({n} rows)")
    assert not found, f"message text reached: {found}"
    # Every row as a whole, whatever the column types.
    tables_ = {(s, t) for s, t, _, _ in cols}
    whole = [f"{s}.{t}" for s, t in sorted(tables_)
             if texts.query(f'select count(*) from "{s}"."{t}" as r where cast(r as varchar) like ?',
                            [f"%{MARKER}%"])[0][0]]
    assert not whole, f"message text reached: {whole}"


def test_report_prints_a_data_quality_line_when_the_period_has_rejected_lines(texts: Workspace):
    base = ["report", "--assistant", "acme-support"]
    json_bad = texts.cli(*base, "--from", DAY_A, "--to", DAY_B, "--format", "json")
    report = json.loads(json_bad.stdout)  # stdout stays pure JSON
    assert isinstance(report, dict)
    dq = [line for line in json_bad.stderr.splitlines() if "rejected" in line]
    assert len(dq) == 1, json_bad.stderr
    assert "1 of" in dq[0] and "data quality" in dq[0].lower(), dq[0]

    table_bad = texts.cli(*base, "--from", DAY_A, "--to", DAY_A, "--format", "table")
    dq = [line for line in table_bad.stdout.splitlines() if "rejected" in line]
    assert len(dq) == 1 and "data quality" in dq[0].lower(), table_bad.stdout

    # A period without data is said in one line (interfaces.md): its export days' rejected lines are
    # a reason in that line, not a second one.
    empty = texts.cli("report", "--assistant", "globex-sales", "--from", DAY_A, "--to", DAY_A, "--format", "json")
    [line] = empty.stderr.splitlines()
    assert line.startswith("assistant-analytics: note: no data for assistant globex-sales in the period"), line
    [(lines_read,)] = texts.query("select count(*) from raw.events where export_date = ?", [DAY_A])
    assert line.endswith(f"; 1 of {lines_read + 1} lines rejected on the period's export days "
                         "(see raw.rejected_lines)"), line

    # A period without rejected lines says nothing.
    json_ok = texts.cli(*base, "--from", DAY_B, "--to", DAY_B, "--format", "json")
    assert "rejected" not in json_ok.stderr, json_ok.stderr
    table_ok = texts.cli(*base, "--from", DAY_B, "--to", DAY_B, "--format", "table")
    assert "rejected" not in table_ok.stdout, table_ok.stdout


# ---------------------------------------------------------------------------------------------
# 3. two refreshes at once


def test_second_refresh_fails_clearly_when_the_lock_timeout_is_short(ref: Reference):
    ws = ref.clone("busy")
    first = Running(ws, *refresh_args(NEW_FROM, LAST_DAY), ANALYTICS_LOCK_TIMEOUT_SECONDS="1")
    assert first.wait_for("dbt build") is not None, first.stderr  # the first holds the lock in dbt
    # Paused, the first keeps the lock however long the second takes to start: on a busy machine
    # the first could otherwise publish before the second asks, and the second rightly goes on.
    os.killpg(first.proc.pid, signal.SIGSTOP)
    try:
        second = Running(ws, *refresh_args(NEW_FROM, LAST_DAY), ANALYTICS_LOCK_TIMEOUT_SECONDS="1")
        rc2 = second.finish()
    finally:
        os.killpg(first.proc.pid, signal.SIGCONT)
    rc1 = first.finish()
    assert second.first("dbt build") is None, "the second refresh got past the load while the first was in dbt"
    assert rc2 == 2, f"second refresh exited {rc2}:\n{second.stderr}"
    # the wait said as progress (indented), then the one error line
    lines = [line for line in second.stderr.splitlines() if "another refresh" in line]
    assert len(lines) == 2, f"expected the wait and one error about another refresh running, got:\n{second.stderr}"
    assert lines[0].startswith("  another refresh of ") and "waiting for it to finish" in lines[0], lines[0]
    assert lines[1].startswith("assistant-analytics: error: "), lines[1]
    assert second.stderr.rstrip().splitlines()[-1] == lines[1]
    assert "Traceback" not in second.stderr and "Stack Trace" not in second.stderr, \
        f"a busy warehouse is a user error: one line, never a traceback:\n{second.stderr}"
    assert rc1 == 0, first.stderr
    assert observe(ws.warehouse) == ref.after
    assert not diff_tables(tables(ws.warehouse), ref.after_tables)


def test_two_refreshes_with_a_long_timeout_both_succeed_and_never_publish_a_half_built_state(ref: Reference):
    ws = ref.clone("queued")
    poller, out, stop = start_reader(ws, "poll", "poll")
    try:
        wait_for_observations(out)
        # Different days, so that the other's raw data in a published file would show.
        first = Running(ws, *refresh_args(NEW_FROM, NEW_FROM + dt.timedelta(days=1)),
                        ANALYTICS_LOCK_TIMEOUT_SECONDS="600")
        assert first.wait_for("dbt build") is not None, first.stderr
        second = Running(ws, *refresh_args(LAST_DAY, LAST_DAY), ANALYTICS_LOCK_TIMEOUT_SECONDS="600")
        rc1, rc2 = first.finish(), second.finish()
        time.sleep(1.0)
    finally:
        polled = stop_reader(poller, stop)
    assert rc1 == 0, first.stderr
    assert rc2 == 0, second.stderr
    errors = [o["error"] for o in polled if "error" in o]
    assert not errors, errors[:3]
    problems = []
    # The two runs in turn end where one run ends.
    problems += diff_results(tables(ws.warehouse), ref.after_tables)
    half_built = [(o["t"], o["obs"]) for o in polled if not consistent(o["obs"])]
    if half_built:
        problems.append(
            f"for {half_built[-1][0] - half_built[0][0]:.1f}s readers saw a published warehouse whose raw layer "
            f"holds export days the marts were not built from (one refresh published the shared build file "
            f"after the other had loaded into it), e.g. {half_built[0][1]}")
    assert not problems, "\n".join(problems)


LOCK_WAITER = r"""
import sys, time
from pathlib import Path
from orchestration.build.build_file import refresh_lock
warehouse, out = Path(sys.argv[1]), sys.argv[2]
with refresh_lock(warehouse, timeout=600):
    got = time.monotonic()
open(out, "w").write(repr(got))
"""


def test_a_refresh_holds_the_lock_from_its_load_to_its_publish(ref: Reference):
    """A second refresh waiting for the lock must not get it between the first one's steps."""
    ws = ref.clone("lockspan")
    run = Running(ws, *refresh_args(NEW_FROM, LAST_DAY))
    assert run.wait_for("loaded export day") is not None, run.stderr
    # Another refresh (same lock code) starts waiting while the first one is loading.
    out = ws.root / "waiter.txt"
    waiter = subprocess.Popen([sys.executable, "-c", LOCK_WAITER, str(ws.warehouse), str(out)],
                              cwd=Path(__file__).resolve().parent.parent)
    assert waiter.wait(RUN_TIMEOUT) == 0
    assert run.finish() == 0, run.stderr
    got = float(out.read_text())
    published = run.first("published ")
    assert published is not None, run.stderr
    steps_then = [line for t, line in run.lines if t <= got][-1:]
    assert got >= published, (
        f"a second refresh got the refresh lock {published - got:.1f}s before the first one published "
        f"(the first one's last line then: {steps_then}); the lock is taken per step, not per refresh")


def test_the_report_connection_draws_no_progress_bar_on_stdout(tmp_path):
    """DuckDB draws a progress bar on stdout (even into a pipe) for a query that runs over two
    seconds: a slow month of `report --format json` printed it into the JSON."""
    from orchestration.serve.report import connect_read_only

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:  # a warehouse with marts: the report reads it
        conn.execute("create schema marts; create table marts.fct_chats (chat_id varchar)")
    conn = connect_read_only(warehouse)
    try:
        assert conn.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False
    finally:
        conn.close()
