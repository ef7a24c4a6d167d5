"""The dbt that a refresh makes ready ahead (orchestration/build/warm_dbt.py): `assistant-analytics-dbt`
hands its command to it and behaves as if it had run dbt itself.

Here pytest's process plays the refresh: it starts the waiting dbt (`WarmDbt`) and then
`assistant-analytics-dbt`, as dagster-dbt does, so both are its children. The dbt commands are
small ones, on a project of one macro in a temporary folder (DuckDB in memory).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration.build.child_process import sigterm_kept
from orchestration.build.warm_dbt import WarmDbt

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's abstract sockets")

DBT = str(Path(sys.executable).parent / "assistant-analytics-dbt")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A dbt project with a macro that waits (a dbt command that is still running when we act)."""
    root = tmp_path_factory.mktemp("warm_dbt")
    (root / "dbt_project.yml").write_text("name: warm\nversion: '1.0'\nprofile: warm\nconfig-version: 2\n")
    (root / "profiles.yml").write_text(textwrap.dedent("""\
        warm:
          target: mem
          outputs:
            mem:
              type: duckdb
              path: ":memory:"
        """))
    (root / "macros").mkdir()
    # busy until interrupted: Jinja has no sleep, and Python code is what a signal interrupts at once
    (root / "macros" / "wait.sql").write_text(
        "{% macro wait() %}{{ log('waiting', info=True) }}"
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endmacro %}\n")
    return root


def dbt(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([DBT, *args], cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def waiting_dbt_of(warm: WarmDbt) -> subprocess.Popen:
    assert warm.wait_until_listening()  # as a refresh waits before its run starts dbt
    return warm._process


def ended_within(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def served(warm: WarmDbt, *args: str, **kwargs) -> tuple[int, str]:
    """`assistant-analytics-dbt <args>`'s exit status and output, once the waiting dbt listens;
    checks that the waiting dbt ran it."""
    waiting = waiting_dbt_of(warm)
    assert waiting.poll() is None
    command = dbt(*args, **kwargs)
    out, _ = command.communicate(timeout=120)
    assert ended_within(waiting, 30), "the waiting dbt did not take the command"
    return command.returncode, out


@pytest.mark.slow  # runs dbt commands
def test_the_command_runs_in_the_waiting_dbt_with_the_callers_directory_environment_and_status(
        project: Path, tmp_path: Path):
    # dbt reads profiles.yml from the working directory, unless DBT_PROFILES_DIR says where: the
    # waiting process was started in pytest's directory, without that variable
    with WarmDbt() as warm:
        status, out = served(warm, "debug", "--config-dir", cwd=project)
        assert status == 0 and str(project) in out, out
        # a refresh of several runs: a new waiting dbt for the next one, the last having taken a build
        assert warm.ready_for_next_build()
        status, out = served(warm, "debug", "--config-dir", cwd=tmp_path, env={"DBT_PROFILES_DIR": str(project)})
        assert status == 0 and str(project) in out, out
    # dbt's own exit status comes back: a usage error is 2, as a dbt run here gives it
    with WarmDbt() as warm:
        status, out = served(warm, "--no-such-flag")
    cold = dbt("--no-such-flag")
    cold_out, _ = cold.communicate(timeout=120)
    assert status == cold.returncode == 2, (out, cold_out)


def ctrl_c_statuses(wait: tuple[str, ...]) -> list[int]:
    """The exit statuses of a dbt command stopped by SIGINT, run by the waiting dbt, then run here."""
    statuses = []
    for warm in (WarmDbt(), None):
        with warm or contextlib.nullcontext():
            if warm:
                waiting_dbt_of(warm)
            proc = dbt(*wait)
            assert _wait_for_line(proc, "waiting")
            proc.send_signal(signal.SIGINT)  # as dagster-dbt stops dbt when a run is stopped
            out, _ = proc.communicate(timeout=30)
            assert "KeyboardInterrupt" in out  # dbt's own report of it
            statuses.append(proc.returncode)
            if warm:
                assert ended_within(warm._process, 30), "the waiting dbt did not take the command"
    return statuses


@pytest.mark.slow  # runs dbt commands
def test_ctrl_c_reaches_dbt_and_a_killed_caller_ends_it(project: Path):
    wait = ("run-operation", "wait", "--project-dir", str(project), "--profiles-dir", str(project))
    statuses = ctrl_c_statuses(wait)  # the same Ctrl-C to a dbt run here: the same status
    assert statuses[0] == statuses[1] != 0
    with WarmDbt() as warm:
        waiting = waiting_dbt_of(warm)
        proc = dbt(*wait)
        assert _wait_for_line(proc, "waiting")
        proc.kill()
        proc.wait()
        assert ended_within(waiting, 30), "dbt went on after the process that handed it the command was killed"


@pytest.mark.slow  # runs dbt commands
def test_dbt_stops_on_sigint_when_the_refresh_was_started_with_it_ignored(project: Path):
    """A refresh started in the background of a non-interactive shell (or under nohup) has SIGINT
    ignored, and its children inherit that: dbt still stops on dagster-dbt's SIGINT, handed over or
    not (child_process.interruptible)."""
    wait = ("run-operation", "wait", "--project-dir", str(project), "--profiles-dir", str(project))
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # pytest's process plays that refresh
    try:
        statuses = ctrl_c_statuses(wait)
    finally:
        signal.signal(signal.SIGINT, before)
    assert statuses[0] == statuses[1] != 0


@pytest.mark.slow  # a Dagster run
def test_sigterm_is_kept_across_a_dagster_run_in_a_process_started_with_sigint_ignored():
    """Dagster ends a run in its caller's process by giving SIGTERM SIGINT's handler: "ignore" in a
    refresh started in the background, so that a kill no longer stopped it between its runs and the
    next run's dbt inherited it. The CLI runs each of its runs inside child_process.sigterm_kept."""
    from dagster import job, op

    @op
    def nothing() -> None:
        pass

    @job
    def one_step():
        nothing()

    before_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # pytest's process plays that refresh
    before_term = signal.getsignal(signal.SIGTERM)
    try:
        assert one_step.execute_in_process().success
        left_by_dagster = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, before_term)
        with sigterm_kept():
            assert one_step.execute_in_process().success
        kept = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGINT, before_int)
        signal.signal(signal.SIGTERM, before_term)
    assert left_by_dagster == signal.SIG_IGN  # the fault, as Dagster leaves it
    assert kept == before_term != signal.SIG_IGN


def _wait_for_line(proc: subprocess.Popen, text: str) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        if text in line:
            return True
    return False


def test_only_a_process_the_refresh_started_can_hand_over_a_command():
    """A process of this user whose parent is not the refresh's process (here a grandchild of
    pytest's) is refused, and runs dbt itself; the waiting dbt still waits for the refresh's."""
    with WarmDbt() as warm:
        waiting = waiting_dbt_of(warm)
        code = textwrap.dedent(f"""
            import os
            os.getppid = lambda: {os.getpid()}  # the socket's name of pytest's waiting dbt
            from orchestration.build.warm_dbt import hand_over
            print("handed over:", hand_over(["--version"]))
        """)
        # not the shell's last command, so that the shell does not become Python (exec) but stays its parent
        grandchild = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0"; exit $?', code], capture_output=True,
                                    text=True, timeout=120)
        assert grandchild.stdout.strip() == "handed over: None", grandchild.stderr
        assert waiting.poll() is None


# A dbt command in this process, after the waiting dbt's schema building or without it: its exit
# status and how many JSON schemas of dbt's dataclasses it still had to build.
SCHEMAS_A_COMMAND_BUILDS = r"""
import sys
from dbt_common.dataclass_schema import dbtClassMixin
from orchestration.build import dbt_child
if sys.argv[1] == "ahead":
    dbt_child._build_validation_schemas()
schemas = dbtClassMixin.json_schema.__func__  # one cache for every class's schema
built_before = schemas.cache_info().misses
status = dbt_child.run_dbt_cli(sys.argv[2:])
print(status, schemas.cache_info().misses - built_before)
"""


@pytest.mark.slow  # runs dbt commands
def test_the_waiting_dbt_builds_every_schema_dbt_checks_a_project_with(project: Path, tmp_path: Path):
    """dbt checks the profile, the project and its flags against JSON schemas built on first use: the
    waiting dbt builds them ahead, all of them (a dbt that checks one more would build it here)."""
    def run(when: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-c", SCHEMAS_A_COMMAND_BUILDS, when, "ls", "--project-dir",
                               str(project), "--profiles-dir", str(project), "--target-path", str(tmp_path / when)],
                              capture_output=True, text=True, cwd=project, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1].split()

    status, built = run("ahead")
    assert status == "0" and built == "0", f"dbt built {built} schemas the waiting dbt had not"
    status, built = run("on-demand")
    assert status == "0" and int(built) >= 5
