"""What a process that a refresh starts does first: dbt's (dbt_child.py), the Spark loader's
(spark_job.py) and the one made ready ahead for both (warm_dbt.py): it ends with the refresh
(`end_with_parent`), a SIGINT stops it (`interruptible`), and its stdout is its own. And what the
refresh's own process keeps for them across its Dagster runs (`sigterm_kept`)."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import signal
import sys
from collections.abc import Iterator

_PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    """If the refresh's process is killed outright (SIGKILL, the OOM killer), a child left running
    would go on writing the build file and holding DuckDB's lock on it, and the next refresh would
    fail on that lock. On Linux this asks the kernel to kill this process when its parent ends
    (PR_SET_PDEATHSIG, kept across the imports since it is this same process). The kernel sends it
    when the parent's forking thread ends: dagster-dbt starts dbt from the thread that runs the dbt
    step, which lives as long as the step waits for dbt."""
    if not _signal_when_parent_ends(signal.SIGKILL):
        return  # not Linux, or not allowed here: the process runs unbound, as it would without this
    if os.getppid() == 1:
        os._exit(1)  # the parent died before the prctl: nobody waits for this process


def _signal_when_parent_ends(sig: int) -> bool:
    """Asks Linux to send `sig` to this process when its parent ends (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return False
    return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0


def ended_with_this_process(sig: int = signal.SIGTERM):
    """A `preexec_fn` for a server this process starts and waits on (the dashboard's Streamlit):
    the server gets `sig` when this process ends, however it ends. Killed on its own (a `kill`, a
    service manager stopping it), this process would otherwise leave the server running, and
    holding its port, with no one to stop it."""
    parent = os.getpid()

    def in_the_child() -> None:
        if _signal_when_parent_ends(sig) and os.getppid() != parent:
            os._exit(1)  # the parent ended before the prctl

    return in_the_child


def interruptible() -> None:
    """A refresh started with SIGINT ignored (in the background of a non-interactive shell, under
    `nohup`) passes that on to the processes it starts, and Python then leaves SIGINT ignored: dbt
    would not stop on the SIGINT with which dagster-dbt stops it when a run is stopped, nor the
    Spark load. So such a process takes Python's own handler back (KeyboardInterrupt)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def sigterm_kept() -> Iterator[None]:
    """A Dagster run in this process (`execute_in_process`) ends by giving SIGTERM the handler that
    SIGINT has (dagster's `setup_interrupt_handlers`). In a process started with SIGINT ignored (see
    `interruptible`) SIGTERM was then ignored too: a `kill` no longer stopped the refresh between
    its runs, and the processes it started next (the next run's dbt) inherited it. So SIGTERM gets
    back the handler it had before the run."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if before is not None:  # None: a handler not set from Python, which Python cannot put back
            signal.signal(signal.SIGTERM, before)


def stdout_kept_from_children() -> io.TextIOWrapper:
    """This process's stdout carries lines that its reader parses (dbt's JSON events, the Spark
    loader's counts); a line it cannot parse is lost. A JVM this process starts inherits stdout and
    writes to it (Spark's warnings, progress) at any time, into the middle of those lines. So the
    processes this one starts from now on get stderr as their stdout, and the stdout returned here
    (line-buffered) is this process's alone."""
    ours = os.dup(1)
    os.dup2(2, 1)
    return io.TextIOWrapper(os.fdopen(ours, "wb"), encoding="utf-8", line_buffering=True)
