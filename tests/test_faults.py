"""Faults a hostile user or a bad day can cause (issue 22): bad settings, a setting meant as SQL,
dbt's start-up errors, a CLI killed while dbt runs.

Settings are checked by calling the functions that read them; the CLI is run only for the end-to-end
promises (one line and exit 2, no dbt left behind by a killed CLI).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import CLI, Workspace, environment_without_settings, event, write_export

from orchestration import settings
from orchestration.build.build_file import build_connection, refresh_lock
from orchestration.build.dbt_project import ensure_manifest
from orchestration.build.dbt_results import dbt_error_line
from orchestration.build.warm_dbt import WAIT_FOR_BUILD
from orchestration.cli.refresh import _split_ranges, check_partition_days, check_warehouse_path
from orchestration.errors import UserError
from orchestration.serve.status import record_path_for

INJECTION = "1GB'; create table raw.pwned as select 42 as x; select '1"

BAD_SETTINGS = [
    ("ANALYTICS_LOCK_TIMEOUT_SECONDS", "x", settings.lock_timeout_seconds),
    ("ANALYTICS_LOCK_TIMEOUT_SECONDS", "-1", settings.lock_timeout_seconds),
    ("ANALYTICS_LOCK_TIMEOUT_SECONDS", "nan", settings.lock_timeout_seconds),
    ("ANALYTICS_FIRST_EXPORT_DAY", "garbage", settings.first_export_day),
    ("ANALYTICS_FIRST_EXPORT_DAY", "2024-02-30", settings.first_export_day),
    ("ANALYTICS_MAX_DAYS_PER_RUN", "1.5", settings.max_days_per_run),
    ("ANALYTICS_MAX_EXPORT_MB_PER_RUN", "lots", settings.max_export_bytes_per_run),
    ("ANALYTICS_VERBOSE", "maybe", settings.verbose),
    ("ANALYTICS_DBT_THREADS", "-1", settings.dbt_threads),
    ("ANALYTICS_DBT_THREADS", "0", settings.dbt_threads),
    ("ANALYTICS_DBT_THREADS_FULL", "two", settings.dbt_threads_full),
    ("ANALYTICS_DBT_TESTS", "some", settings.dbt_tests),
    ("ANALYTICS_ENGINE", "postgres", settings.analytics_engine),
    ("ANALYTICS_SPARK_CLASS_ARCHIVE", "yes", settings.spark_class_archive_dir),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", INJECTION, settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "4", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "0GB", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "150%", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_THREADS", "0", settings.DuckDBLimits.from_env),
    # values past what a run can use, which failed deep in a run (a traceback, or DuckDB's own error
    # after the load) instead of here
    ("ANALYTICS_DUCKDB_THREADS", "100000000000000000000", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DBT_THREADS", "100000", settings.dbt_threads),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "99999999999999999999TB", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "1KB", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "0.5%", settings.DuckDBLimits.from_env),
    ("ANALYTICS_MAX_EXPORT_MB_PER_RUN", "1" * 400, settings.max_export_bytes_per_run),
    ("ANALYTICS_MAX_DAYS_PER_RUN", "1" * 5000, settings.max_days_per_run),
    ("ANALYTICS_LOCK_TIMEOUT_SECONDS", "1" * 30, settings.lock_timeout_seconds),
    ("ANALYTICS_FIRST_EXPORT_DAY", "0001-01-01", settings.first_export_day),
    ("ANALYTICS_FIRST_EXPORT_DAY", "9999-12-31", settings.first_export_day),
    ("ANALYTICS_NIGHTLY_CRON", "every night", settings.nightly_cron),
    ("ANALYTICS_SCHEDULE_TIMEZONE", "Mars/Olympus", settings.schedule_timezone),
    # a folder of the time zone database, and a name longer than a file name: the system's errors
    ("ANALYTICS_SCHEDULE_TIMEZONE", "Europe", settings.schedule_timezone),
    ("ANALYTICS_SCHEDULE_TIMEZONE", "Europe/" + "x" * 300, settings.schedule_timezone),
    # a blank DuckDB does not read (it failed the run after its load), and less than a refresh needs
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "3\u2003GB", settings.DuckDBLimits.from_env),
    ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "64MB", settings.DuckDBLimits.from_env),
    ("ANALYTICS_SENSOR_INTERVAL", "0", settings.sensor_interval_seconds),
    ("ANALYTICS_SENSOR_SETTLE_SECONDS", "soon", settings.sensor_settle_seconds),
    ("ANALYTICS_SENSOR_MAX_RUNS", "-3", settings.sensor_max_runs),
    ("ANALYTICS_MAX_REJECTED_SHARE", "1.5", settings.max_rejected_share),
    ("ANALYTICS_FRESHNESS_DAYS", "a week", settings.freshness_days),
]


@pytest.mark.parametrize("name,value,read", BAD_SETTINGS, ids=[f"{n}={v[:24]}" for n, v, _ in BAD_SETTINGS])
def test_a_bad_setting_is_a_user_error_naming_it(monkeypatch, name, value, read):
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as caught:
        read()
    message = str(caught.value)
    assert name in message and repr(value) in message and "expected" in message
    assert "\n" not in message


@pytest.mark.parametrize("name,value,read", BAD_SETTINGS, ids=[f"{n}={v[:24]}" for n, v, _ in BAD_SETTINGS])
def test_a_refresh_checks_every_setting_before_it_loads(monkeypatch, name, value, read):
    """Those of the asset checks and the sensor too: a bad freshness limit once failed the run's
    check after the refresh had published, and a bad sensor setting passed unnoticed."""
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match=name):
        settings.check_refresh_settings()


@pytest.mark.parametrize("name, value", [("ANALYTICS_SENSOR_MAX_RUNS", "0"), ("ANALYTICS_DBT_THREADS", "0")])
def test_the_dagster_definitions_load_only_with_good_settings(name, value):
    """As `dagster dev` loads the code location: a bad setting stops it with its one line. Not the
    sensor's when it runs, nor a run's dbt step after the run has loaded its day."""
    env = {**os.environ, name: value}
    proc = subprocess.run([sys.executable, "-c", "import orchestration.definitions"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"{name}='{value}' is not valid" in proc.stderr


@pytest.mark.parametrize("limit", ["512MB", "3GB", "1.5GiB", "2 GB", "75%", "75 %"])
def test_memory_limits_duckdb_takes_are_accepted_and_given_as_values(monkeypatch, limit):
    monkeypatch.setenv("ANALYTICS_DUCKDB_MEMORY_LIMIT", limit)
    monkeypatch.setenv("ANALYTICS_DUCKDB_THREADS", "1")
    config = settings.DuckDBLimits.from_env().config()
    conn = duckdb.connect(config=config)
    try:
        got = conn.execute("select current_setting('memory_limit'), current_setting('threads')").fetchone()
    finally:
        conn.close()
    default = duckdb.connect()
    try:
        assert got[0] != default.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        default.close()
    assert got[1] == 1


def test_a_memory_limit_written_as_sql_runs_nothing(monkeypatch, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    conn = duckdb.connect(str(settings.build_path_for(warehouse)))
    conn.execute("create schema raw")
    conn.close()
    monkeypatch.setenv("ANALYTICS_DUCKDB_MEMORY_LIMIT", INJECTION)
    with pytest.raises(UserError, match="ANALYTICS_DUCKDB_MEMORY_LIMIT"):
        with build_connection(warehouse):
            pass
    conn = duckdb.connect(str(settings.build_path_for(warehouse)), read_only=True)
    try:
        assert conn.execute("select count(*) from duckdb_tables() where table_name = 'pwned'").fetchone() == (0,)
    finally:
        conn.close()


def test_unset_or_empty_settings_take_their_defaults(monkeypatch):
    for name, _, _ in BAD_SETTINGS:
        monkeypatch.setenv(name, "")
    settings.check_refresh_settings()
    assert settings.DuckDBLimits.from_env().config() == {"memory_limit": settings.DEFAULT_DUCKDB_MEMORY_LIMIT}
    assert settings.lock_timeout_seconds() == 900 and settings.dbt_threads() == 2


def test_a_bad_lock_timeout_fails_before_the_lock_is_taken(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ANALYTICS_LOCK_TIMEOUT_SECONDS", "x")
    with pytest.raises(UserError, match="ANALYTICS_LOCK_TIMEOUT_SECONDS"):
        with refresh_lock(tmp_path / "warehouse.duckdb"):
            pass


@pytest.mark.parametrize("where, says", [
    ("under-a-file", "cannot make the warehouse's folder"),
    ("a-directory", "is a directory: give the path of a DuckDB file"),
    ("single-quote", "cannot be built by dbt"),
    ("double-quote", "cannot be built by dbt"),
    ("semicolon", "cannot be built by dbt"),
    ("hash", "cannot be built by dbt"),
    ("line-break", "cannot be built by dbt"),
    ("tab", "cannot be built by dbt"),
    ("question-mark-in-folder", "cannot be built by dbt"),
    ("hash-in-folder", "cannot be built by dbt"),
])
def test_a_warehouse_a_refresh_cannot_write_is_refused_before_anything_runs(tmp_path: Path, where, says):
    """Refresh and demo check the path first: a file in the folder's place was a traceback; a
    quote in the file name, or a name dbt-duckdb reads otherwise than DuckDB (its path read as a
    URL), a dbt failure after the load."""
    (tmp_path / "a-file").write_text("")
    for folder in ("why?", "no#1"):
        (tmp_path / folder).mkdir()
    warehouse = {"under-a-file": tmp_path / "a-file" / "w.duckdb", "a-directory": tmp_path,
                 "single-quote": tmp_path / "o'brien.duckdb", "double-quote": tmp_path / 'say"cheese.duckdb',
                 "semicolon": tmp_path / "w;x.duckdb", "hash": tmp_path / "w#x.duckdb",
                 "line-break": tmp_path / "w\nx.duckdb", "tab": tmp_path / "w\tx.duckdb",
                 "question-mark-in-folder": tmp_path / "why?" / "w.duckdb",
                 "hash-in-folder": tmp_path / "no#1" / "w.duckdb"}[where]
    before = sorted(tmp_path.iterdir())
    with pytest.raises(UserError, match=says):
        check_warehouse_path(warehouse, tmp_path / "exports")
    assert sorted(tmp_path.iterdir()) == before  # no lock, no record of a refresh


@pytest.mark.parametrize("name", ["w.duckdb", "my warehouse.duckdb", "w-1_(2).duckdb", "caffè.duckdb", "a;b/w.duckdb",
                                  "w.2026.duckdb", "no suffix"])
def test_a_warehouse_name_dbt_reads_as_duckdb_does_is_taken(tmp_path: Path, name):
    """The names DuckDB and dbt-duckdb give the same database (a `;` in a folder's name is not
    in the path's last part, where a URL's parameters begin)."""
    (tmp_path / "a;b").mkdir()
    check_warehouse_path(tmp_path / name, tmp_path / "exports")


def test_a_lock_that_cannot_be_made_is_a_user_error():
    with pytest.raises(UserError, match="cannot make the refresh lock /proc/w.duckdb.lock"):
        with refresh_lock(Path("/proc/w.duckdb")):
            pass


def test_the_last_day_of_the_calendar_splits_without_overflow():
    last = dt.date.max
    assert _split_ranges([(last - dt.timedelta(days=2), last)], max_days=2, max_bytes=10**9,
                         day_bytes=lambda day: 1) == [(last - dt.timedelta(days=2), last - dt.timedelta(days=1)),
                                                      (last, last)]


def test_export_days_outside_the_partitions_are_refused(monkeypatch):
    monkeypatch.setenv("ANALYTICS_FIRST_EXPORT_DAY", "2024-01-01")
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    check_partition_days([dt.date(2024, 1, 1), tomorrow])
    for day in (dt.date.max, tomorrow + dt.timedelta(days=1), dt.date(2023, 12, 31)):
        with pytest.raises(UserError, match=f"export day {day} is outside"):
            check_partition_days([dt.date(2024, 5, 1), day])


@pytest.mark.slow
def test_a_dbt_start_up_error_shows_dbts_own_line(monkeypatch, tmp_path: Path):
    # A real dbt failure before any node runs (no run_results.json): dagster-dbt's error starts with
    # "The dbt CLI process with command"; what went wrong is in the dbt events it appends.
    from orchestration.defs.resources import make_resources

    build_file = json.dumps({"build_file": str(tmp_path / "build.duckdb")})
    invocation = make_resources()["dbt"].cli(["build", "--vars", build_file, "--threads", "-1",
                                              "--select", "stg_platform__events"],
                                             raise_on_error=False)
    error = str(invocation.get_error())
    assert error.startswith("The dbt CLI process with command")
    assert dbt_error_line(error) == "max_workers must be greater than 0"
    assert dbt_error_line("some other failure\nwith lines") is None


# End to end: the CLI ------------------------------------------------------------------------------

CLI_CASES = [
    ({"ANALYTICS_LOCK_TIMEOUT_SECONDS": "x"}, "2026-11-01", "ANALYTICS_LOCK_TIMEOUT_SECONDS='x'"),
    ({"ANALYTICS_FIRST_EXPORT_DAY": "garbage"}, "2026-11-01", "ANALYTICS_FIRST_EXPORT_DAY='garbage'"),
    ({"ANALYTICS_DUCKDB_MEMORY_LIMIT": INJECTION}, "2026-11-01", "ANALYTICS_DUCKDB_MEMORY_LIMIT="),
    ({"ANALYTICS_DBT_THREADS": "-1"}, "2026-11-01", "ANALYTICS_DBT_THREADS='-1'"),
    # read by an asset check of the run: it once failed the run after the refresh had published
    ({"ANALYTICS_FRESHNESS_DAYS": "-1"}, "2026-11-01", "ANALYTICS_FRESHNESS_DAYS='-1'"),
    ({}, "9999-12-31", "export day 9999-12-31 is outside"),
    # a bad setting is named before a day without a folder, not only once that day is there
    ({"ANALYTICS_MAX_DAYS_PER_RUN": "abc"}, "2026-11-02", "ANALYTICS_MAX_DAYS_PER_RUN='abc'"),
]


@pytest.fixture(scope="module")
def small_exports(module_workspace: Workspace) -> Workspace:
    for day in ("2026-11-01", "9999-12-31"):
        write_export(module_workspace.exports, day, "a.jsonl", [
            event("e1", "chat_started", f"{day}T10:00:00Z"),
            event("e2", "user_message", f"{day}T10:00:05Z", text="hi"),
        ])
    return module_workspace


@pytest.mark.parametrize("env,day,expected", CLI_CASES, ids=[c[2].split("=")[0] for c in CLI_CASES])
def test_the_cli_says_what_is_wrong_in_one_line(small_exports: Workspace, env, day, expected):
    proc = small_exports.cli("refresh", "--day", day, check=False, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assistant-analytics: error: ") and expected in lines[0], proc.stderr
    assert not settings.build_path_for(small_exports.warehouse).exists()  # nothing was loaded


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended after it was listed
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _dbt_handed_the_build(cli: subprocess.Popen, workspace: Workspace) -> tuple[int, list[int], int]:
    """The dbt made ready ahead (warm_dbt.py) once dbt build's process (dagster-dbt's) has handed it
    the build: it is then in the build file's folder, where assistant-analytics-dbt runs a refresh's
    dbt (dbt_child.in_build_file_folder); the CLI's children then; and dagster-dbt's dbt command."""
    deadline, dbt, handed_over, children = time.monotonic() + 300, None, None, []
    while handed_over is None and time.monotonic() < deadline and cli.poll() is None:
        children = _children(cli.pid)
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                cwd = Path(os.readlink(f"/proc/{child}/cwd"))
            except FileNotFoundError:  # the child ended after it was listed
                continue
            if any(b"dbt" in part for part in cmdline[:2]) and b"build" in cmdline:
                dbt = child
            if WAIT_FOR_BUILD.encode() in cmdline and cwd == workspace.warehouse.resolve().parent:
                handed_over = child
        time.sleep(0.05)
    assert dbt is not None and handed_over is not None, "the refresh never handed dbt build over"
    return handed_over, children, dbt


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.slow
def test_a_killed_cli_takes_its_dbt_with_it(workspace: Workspace):
    write_export(workspace.exports, "2026-11-01", "a.jsonl", [
        event("e1", "chat_started", "2026-11-01T10:00:00Z"),
        event("e2", "user_message", "2026-11-01T10:00:05Z", text="hi"),
    ])
    env = environment_without_settings()
    env["DAGSTER_HOME"] = str(workspace.dagster_home)
    # A refresh that finds the project newer than its manifest (an edit in this checkout; a fresh
    # clone) runs `dbt parse` first, which takes the dbt made ready ahead: its build would then run
    # dbt itself, with nothing handed over to wait for here.
    ensure_manifest()
    # started elsewhere than the warehouse's folder, which the dbt made ready ahead moves to only
    # when it takes the build
    elsewhere = workspace.root / "elsewhere"
    elsewhere.mkdir()
    cli = subprocess.Popen([CLI, "refresh", "--warehouse", str(workspace.warehouse), "--exports",
                            str(workspace.exports), "--day", "2026-11-01"],
                           env=env, cwd=elsewhere, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _, children, _ = _dbt_handed_the_build(cli, workspace)
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        deadline = time.monotonic() + 10
        while any(_alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [child for child in children if _alive(child)], "dbt went on after its CLI was killed"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    workspace.cli("refresh", "--day", "2026-11-01")
    assert workspace.query("select export_date, lines_read from raw.export_days") == [(dt.date(2026, 11, 1), 2)]


def _runs_db_a_folder(home: Path) -> None:
    (home / "history" / "runs.db").mkdir(parents=True)


# A Dagster home the CLI cannot use, and what its one line then says after "cannot open the Dagster
# instance": a dagster.yaml that does not parse, or names a class that is not there; or its run
# history's storage that cannot be opened, the YAML read (a full disk, a file it may not write; here
# a folder where the SQLite file goes), where the YAML is not to blame.
DAGSTER_HOMES_REFUSED = {
    "yaml that does not parse": ("run_storage: [\n", None, " of {home} (its dagster.yaml?): "),
    "a class not there": ("run_storage:\n  module: no_such_module\n  class: X\n", None,
                          " of {home} (its dagster.yaml?): "),
    "run history": ("", _runs_db_a_folder, "'s run history in {home}: (sqlite3.OperationalError) "),
}


@pytest.mark.parametrize("case", DAGSTER_HOMES_REFUSED)
def test_a_dagster_home_the_cli_cannot_use_is_one_line_before_the_refresh_loads(tmp_path, case):
    """One line and exit 2, not Dagster's traceback (exit 1), before anything is loaded."""
    dagster_yaml, prepare, says = DAGSTER_HOMES_REFUSED[case]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml)
    if prepare:
        prepare(home)
    write_export(tmp_path / "exports", "2026-11-20", "part-0000.jsonl", [])
    env = {**environment_without_settings(), "DAGSTER_HOME": str(home)}
    proc = subprocess.run([CLI, "refresh", "--all", "--warehouse", str(tmp_path / "w.duckdb"),
                           "--exports", str(tmp_path / "exports")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    said = "assistant-analytics: error: cannot open the Dagster instance" + says.format(home=home)
    assert line.startswith(said), line
    assert not (tmp_path / "w.duckdb").exists()


def make_notes(path: Path) -> None:
    path.write_text("my notes, not a database\n")


# What a warehouse path may hold that is no DuckDB file, and the line a refresh or the demo says.
NOT_A_WAREHOUSE = {
    # DuckDB's error came from inside the run, naming the build file it had copied it to (left behind)
    "text": (make_notes, "is not a DuckDB file: give the path of the warehouse, or of a file that does not exist yet"),
    # DuckDB takes an empty file for a damaged database: the empty build file left behind failed every
    # later refresh, the empty warehouse removed or not
    "empty": (Path.touch, "is an empty file, not a DuckDB file: remove it (the first refresh makes the file)"),
    # looking at its first bytes would wait for a writer
    "fifo": (os.mkfifo, "is not a regular file: give the path of a DuckDB file"),
}


@pytest.mark.parametrize("command", [["refresh", "--all"], ["demo", "--days", "1"]])
@pytest.mark.parametrize("kind", NOT_A_WAREHOUSE)
def test_a_warehouse_path_that_holds_no_duckdb_file_is_one_line_and_left_as_it_is(tmp_path, command, kind):
    make, says = NOT_A_WAREHOUSE[kind]
    (tmp_path / "w").mkdir()
    warehouse = tmp_path / "w" / "w.duckdb"
    make(warehouse)
    write_export(tmp_path / "exports", "2026-11-20", "part-0000.jsonl", [])
    env = environment_without_settings()
    proc = subprocess.run([CLI, *command[:1], "--warehouse", str(warehouse), "--exports", str(tmp_path / "exports"),
                           *command[1:]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"assistant-analytics: error: the warehouse {warehouse} {says}"], proc.stderr
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["w.duckdb"]
    if kind == "text":
        assert warehouse.read_text() == "my notes, not a database\n"


# The read commands on a file that is no DuckDB file: DuckDB said "Cannot launch in-memory database in
# read-only mode" for a name ending in .csv or .parquet (it takes those for data files to query).
READ_COMMANDS = {
    "status": ["status"],
    "report": ["report", "--assistant", "acme-support", "--from", "2026-11-20", "--to", "2026-11-20"],
    "export": ["export", "fct_chats", "-o", "chats.csv"],
    "dashboard": ["dashboard", "--port", "8799"],
}


@pytest.mark.parametrize("name, make, says", [
    ("w.csv", make_notes, "is not a DuckDB file"),
    ("w.parquet", make_notes, "is not a DuckDB file"),
    ("w.duckdb", Path.touch, "is an empty file, not a DuckDB file"),
])
@pytest.mark.parametrize("command", READ_COMMANDS)
def test_a_read_command_on_a_file_that_is_no_duckdb_file_says_so_in_one_line(tmp_path, command, name, make, says):
    warehouse = tmp_path / name
    make(warehouse)
    proc = subprocess.run([CLI, *READ_COMMANDS[command], "--warehouse", str(warehouse)],
                          env=environment_without_settings(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"assistant-analytics: error: the warehouse {warehouse} {says}: give the path of the warehouse that a "
        "refresh publishes"], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written, the file left as it was


# ----------------------------------------------------------------------------- the build file

def test_refresh_full_waits_for_the_refresh_that_holds_the_warehouse(workspace: Workspace):
    """`refresh --full` (no days) reads the loaded days from the build file under the refresh lock:
    while another refresh holds the warehouse (its lock, and the build file open in DuckDB), it waits
    and gives up with the lock's one line, not a traceback from opening the build file beside it."""
    from orchestration.settings import build_path_for

    build = build_path_for(workspace.warehouse)
    holder = duckdb.connect(str(build))  # as the other refresh's loader or dbt holds it
    try:
        with refresh_lock(workspace.warehouse, timeout=0):
            proc = workspace.cli("refresh", "--full", check=False, env={"ANALYTICS_LOCK_TIMEOUT_SECONDS": "1"})
    finally:
        holder.close()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [f"  another refresh of {workspace.warehouse} is running: waiting for it to "
                                        "finish (up to 1s, ANALYTICS_LOCK_TIMEOUT_SECONDS)",
                                        f"assistant-analytics: error: another refresh of {workspace.warehouse} "
                                        f"is running (lock {settings.lock_path_for(workspace.warehouse)}); "
                                        "gave up after waiting 1s"]


def test_a_refresh_waits_out_statuss_moment_on_the_lock_without_a_word_even_with_no_lock_timeout(tmp_path):
    """`status` holds the refresh lock shared for milliseconds (its check for a running refresh, and
    while it reads the build file). A refresh starting then is not told that another refresh runs,
    and does not give up, even with ANALYTICS_LOCK_TIMEOUT_SECONDS=0: it failed 3 times in 11 beside
    a loop of status checks."""
    import fcntl
    import threading

    from orchestration.build import progress

    warehouse = tmp_path / "w.duckdb"
    lock = settings.lock_path_for(warehouse)
    lock.touch()
    reader = os.open(lock, os.O_RDONLY)
    fcntl.flock(reader, fcntl.LOCK_SH)
    threading.Timer(0.3, os.close, [reader]).start()  # closing it releases the lock
    said: list[str] = []
    progress.set_listener(said.append)
    try:
        started = time.monotonic()
        with refresh_lock(warehouse, timeout=0):
            assert 0.25 < time.monotonic() - started < 1
    finally:
        progress.set_listener(None)
    assert said == []


DAMAGED_BUILD_FILES = {
    "text": lambda path: path.write_text("not a database\n"),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[:5000]),
}


@pytest.mark.parametrize("damage", DAMAGED_BUILD_FILES)
@pytest.mark.parametrize("args", [["--full"], pytest.param(["--day", "2026-11-20"], marks=pytest.mark.slow)],
                         ids=["full alone", "a day"])  # a day: a Dagster run starts, and fails in its load
def test_a_damaged_build_file_is_one_line_that_says_what_to_do(workspace: Workspace, damage, args):
    """A build file DuckDB cannot read would stop every refresh: one line names it and says that
    deleting it is the remedy (the next refresh starts from the published file), for `--full` alone
    (which reads its loaded days first) and for a refresh that loads (its load opens it)."""
    from orchestration.settings import build_path_for

    write_export(workspace.exports, "2026-11-20", "part-0000.jsonl", [])
    build = build_path_for(workspace.warehouse)
    with duckdb.connect(str(build)) as conn:
        conn.execute("create schema raw; create table raw.export_days (export_date date, fingerprint varchar)")
    DAMAGED_BUILD_FILES[damage](build)
    proc = workspace.cli("refresh", *args, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("assistant-analytics: error: ")]
    assert f"the build file {build} is damaged (" in line and "delete it and refresh again" in line, line
    assert line.count(" is damaged (") == 1, line  # once: not the step's line inside the refresh's


def test_a_block_of_the_build_file_that_fails_its_checksum_during_the_load_is_the_damaged_build_files_line(tmp_path):
    """The loader's connection to the build file meets a damaged block only when a query reaches it
    (the file opens): that error is the damaged build file's one line too, not DuckDB's bare one."""
    from orchestration.build.build_file import STORAGE_VERSION, build_connection
    from orchestration.settings import build_path_for

    warehouse = tmp_path / "w.duckdb"
    build = build_path_for(warehouse)
    with duckdb.connect(str(build), config={"storage_compatibility_version": STORAGE_VERSION}) as conn:
        conn.execute("create table t as select i, md5(i::varchar) as m from range(300000) r(i)")
    with open(build, "r+b") as file:
        file.seek(3 * 4096 + 256 * 1024 + 8)  # inside the second block, past its checksum
        file.write(b"\xa5" * 64)
    with pytest.raises(UserError, match=rf"^the build file {re.escape(str(build))} is damaged \(.*checksum.*\): "
                                        "delete it and refresh again"):
        with build_connection(warehouse) as conn:
            conn.execute("select sum(hash(t)) from t").fetchall()


def test_a_build_file_deleted_by_hand_leaves_no_write_ahead_log_to_replay(tmp_path):
    """A refresh killed outright leaves the build file's write-ahead log beside it. Once the build
    file is deleted by hand (as the damaged build file's line says), the next refresh's new build
    file must not take that log: DuckDB replayed it onto the new file and refused to open it, on
    every refresh after."""
    from orchestration.build.build_file import STORAGE_VERSION, prepare_build_file

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse), config={"storage_compatibility_version": STORAGE_VERSION}) as conn:
        conn.execute("create table t as select 1 as i")
    build = prepare_build_file(warehouse)
    conn = duckdb.connect(str(build))
    conn.execute("pragma disable_checkpoint_on_shutdown")  # as a killed process leaves it
    conn.execute("insert into t select range from range(1000)")
    conn.close()
    wal = build.with_name(build.name + ".wal")
    assert wal.exists()
    build.unlink()
    assert prepare_build_file(warehouse) == build
    with duckdb.connect(str(build), read_only=True) as conn:
        assert conn.execute("select count(*) from t").fetchone() == (1,)


@pytest.mark.parametrize("message, damaged", [
    ('IO Error: The file "b.duckdb" exists, but it is not a valid DuckDB database file!', True),
    ("IO Error: Could not read enough bytes from file \"b.duckdb\": attempted to read 4096 bytes", True),
    ("Error: Corrupt database file: computed checksum 1 does not match stored checksum 2 in block 3", True),
    ('IO Error: Could not set lock on file "b.duckdb": Conflicting lock is held in python3 (PID 1)', False),
])
def test_only_a_damaged_build_file_is_called_damaged(message, damaged):
    """Deleting the build file is the remedy for damage only: a lock another process holds is named
    as it is (the file is in use, not broken)."""
    from orchestration.build.build_file import build_file_error

    line = str(build_file_error(Path("b.duckdb"), duckdb.IOException(message)))
    assert ("is damaged" in line and "delete it" in line) == damaged, line
    assert message in line


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.slow
@pytest.mark.parametrize("killed", ["the dbt made ready ahead", "assistant-analytics-dbt"])
def test_dbt_killed_from_outside_is_named_in_the_refresh_line(workspace: Workspace, killed: str):
    """dbt's process killed during its build (the out-of-memory killer's SIGKILL): the refresh's one
    line and its record say so, where dagster-dbt's message said only that dbt failed. Either process:
    the dbt that runs the build, or the command dagster-dbt started, by the name docs/refresh.md gives
    dbt's process (its line was cut after "The dbt CLI process with command")."""
    write_export(workspace.exports, "2026-11-01", "a.jsonl", [event("e1", "user_message", "2026-11-01T10:00:05Z")])
    env = environment_without_settings()
    env["DAGSTER_HOME"] = str(workspace.dagster_home)
    ensure_manifest()  # else `dbt parse` takes the dbt made ready ahead (test above)
    elsewhere = workspace.root / "elsewhere"  # not the warehouse's folder (test above)
    elsewhere.mkdir()
    cli = subprocess.Popen([CLI, "refresh", "--warehouse", str(workspace.warehouse), "--exports",
                            str(workspace.exports), "--day", "2026-11-01"],
                           env=env, cwd=elsewhere, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        waiting, _, command = _dbt_handed_the_build(cli, workspace)
        os.kill(waiting if killed == "the dbt made ready ahead" else command, signal.SIGKILL)
        _, stderr = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    said = ("assistant-analytics: error: refresh of 2026-11-01 .. 2026-11-01 failed: warehouse_dbt_models: dbt's "
            "process was killed by SIGKILL (the system kills a process so when memory runs out: a lower "
            "ANALYTICS_DUCKDB_MEMORY_LIMIT makes DuckDB spill to disk sooner)")
    assert cli.returncode == 2 and said in stderr.splitlines() and "Traceback" not in stderr, stderr
    record = json.loads(record_path_for(workspace.warehouse).read_text())
    assert record["outcome"] == "failed" and said.endswith(record["error"])
