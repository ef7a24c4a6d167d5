"""`assistant-analytics-dbt`: dbt, bound to the process that starts it (dagster-dbt's dbt_executable).

A refresh runs dbt as a child process. If the refresh's process is killed outright (SIGKILL, the
OOM killer), an unbound dbt would go on writing the build file and holding DuckDB's lock on it, and
the next refresh would fail on that lock. On Linux this asks the kernel to kill dbt when its
parent ends (PR_SET_PDEATHSIG, kept across dbt's start-up since it runs in this same process).
The kernel sends it when the parent's forking thread ends: dagster-dbt starts dbt from the thread
that runs the dbt step, which lives as long as the step waits for dbt.

When the refresh has made a dbt ready ahead (warm_dbt.py, `--wait-for-build`), this process hands
it the command and waits for it instead of importing dbt itself.
"""

from __future__ import annotations

import ctypes
import io
import os
import signal
import sys

from . import warm_dbt
from .gc_tuning import freeze_what_lives_until_exit, long_lived_set_up

_PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not allowed here: dbt runs unbound, as it would without this wrapper
    if os.getppid() == 1:
        os._exit(1)  # the parent died before the prctl: nobody waits for this dbt


def stdout_for_dbt_only() -> None:
    """dbt writes its events to stdout, one JSON line each, which dagster-dbt parses; a line it cannot
    parse is dropped, and with it a node's result. On the spark target dbt starts a JVM that inherits
    stdout and writes to it (Spark's warnings, progress), at any time, into the middle of dbt's lines.
    So the processes dbt starts get stderr as their stdout, and dbt alone keeps the real one."""
    dbt_stdout = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(dbt_stdout, "wb"), encoding="utf-8", line_buffering=True)


def _freeze_the_parsed_project(event) -> None:
    """dbt says how many threads it runs the nodes on once the project is parsed and its graph
    compiled, before the first node: those live until the process ends (gc_tuning.py)."""
    if event.info.name == "ConcurrencyLine":
        freeze_what_lives_until_exit()


def run_dbt_cli(argv: list[str]) -> int:
    """dbt's own command line on `argv`; its exit status."""
    with long_lived_set_up():
        from dbt.cli.main import cli

    try:
        cli.main(args=argv, prog_name="dbt", obj={"callbacks": [_freeze_the_parsed_project]})
    except SystemExit as done:  # click ends the command this way, with dbt's status
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def wait_for_build() -> int:
    """The dbt a refresh makes ready ahead (warm_dbt.py): imports dbt, takes one build, runs it."""
    listener = warm_dbt.listen()
    with long_lived_set_up():
        import dbt.adapters.duckdb  # noqa: F401 (the default target's adapter, imported ahead too)
        import dbt.cli.main  # noqa: F401
    build = warm_dbt.Build(listener)
    stdout_for_dbt_only()
    status = run_dbt_cli(build.argv)
    build.finish(status)
    return status


def main() -> None:
    end_with_parent()
    if sys.argv[1:] == [warm_dbt.WAIT_FOR_BUILD]:
        sys.exit(wait_for_build())
    # the dbt that the refresh made ready ahead, when there is one; else dbt runs here
    status = warm_dbt.hand_over(sys.argv[1:])
    if status is None:
        stdout_for_dbt_only()
        status = run_dbt_cli(sys.argv[1:])
    sys.exit(status)


if __name__ == "__main__":
    main()
