"""Shared helpers: write small hand-made exports and drive the public CLI.

Tiers: a test that runs a refresh (or the demo), dbt or a Dagster command, Streamlit or a
browser, or builds a venv is marked `slow` (directly, by `pytestmark`, or through a fixture marked
with `slow_fixture`); `pytest -m "not slow"` runs the others on every change. A test that is not
marked slow and still completes a refresh or demo, whichever way it starts it, fails with a line
that says so (see `pytest_runtest_makereport`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.build.child_process import sigterm_kept
from orchestration.publish.publish import spare_path_for
from orchestration.serve.report import ReportParams, build_report, connect_read_only
from orchestration.serve.status import record_path_for
from orchestration.settings import build_path_for

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "assistant-analytics")
WAREHOUSE_NAME = "warehouse.duckdb"  # every workspace's warehouse file


def event(event_id, event_type, occurred_at, *, assistant="acme-support", channel="web", user="u1",
          conversation="c1", user_agent=None, **properties) -> dict:
    """One valid-looking event; keyword arguments become its properties."""
    e = {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "assistant_id": assistant,
        "channel": channel,
        "user_id": user,
        "conversation_id": conversation,
        "properties": properties,
    }
    if user_agent is not None:
        e["user_agent"] = user_agent
    return e


def user_message(event_id, occurred_at, who: dict | None = None, **properties) -> dict:
    """A user_message whose message_id is its event_id; `who` holds event() keywords (user, channel...)."""
    return _message("user_message", event_id, occurred_at, who, properties)


def bot_message(event_id, occurred_at, who: dict | None = None, **properties) -> dict:
    """A bot_message whose message_id is its event_id (a feedback refers to the answer by that)."""
    return _message("bot_message", event_id, occurred_at, who, properties)


def _message(event_type, event_id, occurred_at, who, properties) -> dict:
    properties = {"message_id": event_id, **(who or {}), **properties}
    return event(event_id, event_type, occurred_at, **properties)


def write_export(exports: Path, day: str, name: str, lines: list) -> Path:
    """Writes one export file; items are dicts (dumped as JSON) or raw strings (written as they are)."""
    folder = exports / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    path = folder / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def environment_without_settings() -> dict[str, str]:
    """This process's environment without any ANALYTICS_* setting: a CLI or dbt started with it
    sees the defaults, whatever the shell that runs the suite has set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}


def dbt_by_hand(warehouse: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    """dbt on `warehouse` as an engineer runs it by hand: from dbt_project/, the venv's dbt, the
    file given by $ANALYTICS_WAREHOUSE (profiles.yml). Its target and logs go to `target`, so the
    checkout's dbt_project/target is left alone."""
    env = environment_without_settings()
    env["ANALYTICS_WAREHOUSE"] = str(warehouse)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = ["dbt", *args, "--profiles-dir", "..", "--target-path", str(target), "--log-path", str(target / "logs")]
    return subprocess.run(cmd, cwd=REPO / "dbt_project", env=env, capture_output=True, text=True, timeout=600)


def process_group_gone(process: subprocess.Popen, timeout: float) -> bool:
    """Whether every process of `process`'s group (it leads one: start_new_session) has ended
    within `timeout` seconds; `process` itself is reaped meanwhile (a zombie leader keeps the
    group)."""
    deadline = time.monotonic() + timeout
    while True:
        process.poll()
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def slow_fixture(fixture_function):
    """Under @pytest.fixture: the fixture runs a refresh (or another slow process), so every test
    that uses it, directly or through another fixture, is marked `slow`."""
    fixture_function.slow = True
    return fixture_function


# The order in which the files go to the pytest-xdist workers (pyproject: --dist loadfile
# --no-loadscope-reorder): every file that takes seconds, longest first (their times in a CI run),
# so that the short ones fill in behind them and the two workers finish together
# (longest-processing-time first), not a file of half a minute starting last. Unlisted files (under
# a second each) follow in collection order.
FILE_ORDER = (
    "test_spark.py",
    "test_serving.py",
    "test_spark_load.py",
    "test_incremental.py",
    "test_load.py",
    "test_dagster.py",
    "test_test_scope.py",
    "test_seed_changes.py",
    "test_dashboard.py",
    "test_kpi_tests_fail_on_wrong_marts.py",
    "test_warm_dbt.py",
    "test_cli.py",
    "test_report_kpis.py",
    "test_publish.py",
    "test_lint_sql.py",
    "test_bi_tools.py",
    "test_faults.py",
    "test_dbt_partial_parse.py",
    "test_beyond_kpis.py",
    "test_load_faults.py",
    "test_dbt_resource.py",
    "test_validation.py",
    "test_demo_data.py",
    "test_dbt_log_lines.py",
)


def pytest_collection_modifyitems(items):
    for item in items:
        definitions = item._fixtureinfo.name2fixturedefs.values()
        if any(getattr(d.func, "slow", False) for defs in definitions for d in defs):
            item.add_marker(pytest.mark.slow)
    missing = [name for name in FILE_ORDER if not (REPO / "tests" / name).exists()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py FILE_ORDER names files that do not exist: {missing}")
    rank = {name: i for i, name in enumerate(FILE_ORDER)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FILE_ORDER)))  # stable: a file's own order stays


_RUNS = ("refresh", "demo")  # the commands that run the Dagster job
# The runs of the current test (its fixtures' set-up included) that completed: CLI processes started
# in any way (Workspace.cli, subprocess.run, Popen) and `cli.main` called in this process. A test not
# marked slow fails when one of them completed (`pytest_runtest_makereport`): the fast tier runs no
# refresh, whichever way a test starts it.
_run_processes: list[subprocess.Popen] = []
_runs_in_process: list[str] = []
_popen_init = subprocess.Popen.__init__


def _recording_popen_init(self, args, *more, **kwargs):
    _popen_init(self, args, *more, **kwargs)
    argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    if len(argv) > 1 and Path(os.fsdecode(argv[0])).name == "assistant-analytics" and argv[1] in _RUNS:
        _run_processes.append(self)


def _recording_cli_main(main):
    def recorded(argv=None):
        status = main(argv)
        if argv and argv[0] in _RUNS and status == 0:
            _runs_in_process.append(argv[0])
        return status
    return recorded


def _completed_runs() -> list[str]:
    done = [os.fsdecode(p.args[1]) for p in _run_processes if p.returncode == 0]
    return done + _runs_in_process


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _run_processes.clear()
    _runs_in_process.clear()
    # sigterm_kept: a Dagster run in a test's own process (tests/test_dagster.py) would leave SIGTERM
    # ignored, for every later child of this process, when the suite was started with SIGINT ignored
    with sigterm_kept():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "teardown" and report.passed and not item.get_closest_marker("slow"):
        runs = _completed_runs()
        if runs:
            report.outcome = "failed"
            report.longrepr = (f"{item.nodeid} completed `{runs[0]}` (a Dagster run): mark it "
                               "@pytest.mark.slow, or test the rule without a run")
    return report


def pytest_configure(config):
    from orchestration.cli import main as cli_main

    subprocess.Popen.__init__ = _recording_popen_init
    cli_main.main = _recording_cli_main(cli_main.main)
    # Under pytest-xdist, once before its workers start: a manifest their refreshes only read.
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from orchestration.build.dbt_project import ensure_manifest

        ensure_manifest(Path(WAREHOUSE_NAME))  # parsed for the name of every workspace's warehouse


# Dagster's run history of the tests' CLI runs lives on tmpfs when the machine has one: each run
# stores a few hundred events in SQLite, each commit and close with an fdatasync, which costs
# seconds per refresh on a busy disk; no test is about the durability of Dagster's own storage.
# One folder per test process, removed when its session ends (and left-overs of killed sessions
# when the next one starts).
_TMPFS = Path("/dev/shm")
_RUN_HISTORY_PREFIX = "assistant-analytics-tests-"

# And a test workspace's instance keeps a run's events in memory, not in SQLite: a refresh logs a few
# hundred, and SQLite's storage spent a large share of a small refresh's CPU on them (an engine
# and a connection per event), on tmpfs too. No test reads the events of a workspace's CLI run;
# the runs themselves are still recorded (run storage), and the tests that check the run history
# a user sees (tests/test_dagster.py: `dagster dev`, the CLI's default home) use Dagster's defaults.
# The compute logs are Dagster's default, as a user's home has them (the CLI's runs leave them out:
# cli/refresh.py `_instance`).
_EVENTS_IN_MEMORY = """\
event_log_storage:
  module: dagster._core.storage.event_log
  class: InMemoryEventLogStorage
telemetry:
  enabled: false
"""


def run_history_root() -> Path | None:
    if not (_TMPFS.is_dir() and os.access(_TMPFS, os.W_OK)):
        return None
    root = _TMPFS / f"{_RUN_HISTORY_PREFIX}{os.getpid()}"
    root.mkdir(exist_ok=True)
    return root


def pytest_sessionstart(session):
    if not _TMPFS.is_dir():
        return
    for stale in _TMPFS.glob(f"{_RUN_HISTORY_PREFIX}*"):
        pid = int(stale.name.removeprefix(_RUN_HISTORY_PREFIX))
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)


def pytest_sessionfinish(session):
    shutil.rmtree(_TMPFS / f"{_RUN_HISTORY_PREFIX}{os.getpid()}", ignore_errors=True)


_DUCKDB_HEADERS = 3 * 4096  # a DuckDB file's headers, then its blocks
_DUCKDB_BLOCK = 256 * 1024


def duckdb_blocks(warehouse: Path) -> int:
    """How many blocks the DuckDB file holds."""
    return (warehouse.stat().st_size - _DUCKDB_HEADERS) // _DUCKDB_BLOCK


def with_a_damaged_block(source: Path, target: Path, block: int) -> Path:
    """A copy of `source` at `target` whose `block` fails DuckDB's checksum once a query reads it (a
    disk fault); returns target."""
    shutil.copyfile(source, target)
    with open(target, "r+b") as file:
        file.seek(_DUCKDB_HEADERS + block * _DUCKDB_BLOCK + 8)  # past the block's own checksum
        file.write(b"\xa5" * 64)
    return target


def _beside_warehouse(warehouse: Path) -> list[Path]:
    """The files a refresh leaves for a warehouse: the published file, the build file, the spare of
    the last publish, the refresh record, and the databases' write-ahead logs."""
    files = [warehouse, build_path_for(warehouse), spare_path_for(warehouse)]
    return [*files, *(f.with_name(f.name + ".wal") for f in files), record_path_for(warehouse)]


def copy_warehouse(source: Path, target: Path) -> Path:
    """Copies a finished warehouse's files (those that exist) to target's names; returns target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(_beside_warehouse(source), _beside_warehouse(target), strict=True):
        if src.exists():
            shutil.copy2(src, dst)
    return target


@dataclass
class Workspace:
    root: Path

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def warehouse(self) -> Path:
        return self.root / WAREHOUSE_NAME

    @property
    def dagster_home(self) -> Path:
        """DAGSTER_HOME of this workspace's CLI runs: `dagster_home` in the workspace, a link into
        run_history_root() when there is one; its instance keeps events in memory (_EVENTS_IN_MEMORY)."""
        home = self.root / "dagster_home"
        if not home.exists():
            fast = run_history_root()
            if fast is None:
                home.mkdir()
            else:
                home.symlink_to(tempfile.mkdtemp(prefix=f"{self.root.name}-", dir=fast), target_is_directory=True)
            (home / "dagster.yaml").write_text(_EVENTS_IN_MEMORY, encoding="utf-8")
        return home

    def cli(self, *args: str, check: bool = True, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The CLI on this workspace; no ANALYTICS_* setting of the caller leaks in, only `env`'s."""
        env = {**environment_without_settings(), **(env or {})}
        env["DAGSTER_HOME"] = str(self.dagster_home)
        cmd = [CLI, args[0], "--warehouse", str(self.warehouse), "--exports", str(self.exports), *args[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=self.root)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def report(self, assistant: str, date_from: str, date_to: str, channel: str | None = None) -> dict:
        args = ["report", "--assistant", assistant, "--from", date_from, "--to", date_to, "--format", "json"]
        if channel:
            args += ["--channel", channel]
        return json.loads(self.cli(*args).stdout)

    def report_in_process(self, assistant: str, date_from: str, date_to: str, channel: str | None = None) -> dict:
        """The report that `report(...)` gets from the CLI, computed in this process by the function
        the CLI calls (no process start): for tests that compare many reports of warehouses; the
        CLI's own path is what test_report_kpis and test_cli check."""
        conn = connect_read_only(self.warehouse)
        try:
            params = ReportParams(assistant, dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to), channel)
            return json.loads(json.dumps(build_report(conn, params)))
        finally:
            conn.close()

    def query(self, sql: str, params=None) -> list[tuple]:
        conn = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ws"))
