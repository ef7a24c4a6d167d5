"""The published warehouse and its private build file.

Readers (analysts, BI tools, `report`) open only the published file. A refresh writes a private
build file beside it and publishes a finished copy by atomic rename, so a reader never blocks the
refresh and never sees a half-built state. A refresh killed at any point leaves the published file
as it was; the build file keeps what is still owed in `raw.pending_users` and the next refresh
finishes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from .settings import DuckDBLimits, build_path_for


class RefreshBusyError(Exception):
    """Another refresh holds the warehouse; the message is user-facing."""


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process
_held_guard = threading.Lock()


@contextlib.contextmanager
def refresh_lock(warehouse: Path, timeout: float | None = None) -> Iterator[None]:
    """One refresh at a time per warehouse; a second one waits, then fails with a clear message."""
    if timeout is None:
        timeout = float(os.environ.get("ANALYTICS_LOCK_TIMEOUT_SECONDS", "900"))
    lock_path = str(warehouse.with_name(warehouse.name + ".lock"))
    with _held_guard:
        if lock_path in _held:
            fd, depth = _held[lock_path]
            _held[lock_path] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise RefreshBusyError(
                        f"another refresh of {warehouse} is running (lock {lock_path}); "
                        f"gave up after waiting {timeout:g}s"
                    ) from None
                time.sleep(0.2)
        with _held_guard:
            _held[lock_path] = (fd, 1)
    try:
        yield
    finally:
        with _held_guard:
            fd, depth = _held[lock_path]
            if depth > 1:
                _held[lock_path] = (fd, depth - 1)
            else:
                del _held[lock_path]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def prepare_build_file(warehouse: Path) -> Path:
    """Returns the build file, seeding it from the published warehouse when it is missing."""
    build = build_path_for(warehouse)
    if not build.exists() and warehouse.exists():
        tmp = build.with_name(build.name + ".tmp")
        shutil.copyfile(warehouse, tmp)
        os.replace(tmp, build)
    build.parent.mkdir(parents=True, exist_ok=True)
    return build


@contextlib.contextmanager
def build_connection(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the build file, closed on exit so dbt can open it next."""
    conn = duckdb.connect(str(prepare_build_file(warehouse)))
    try:
        for stmt in DuckDBLimits.from_env().settings_sql():
            conn.execute(stmt)
        yield conn
    finally:
        conn.close()


class UnfinishedBuildError(Exception):
    """The build file holds work no dbt build has finished: publishing it would show a half-built state."""


def publish(warehouse: Path) -> float:
    """Copies the finished build file over the published path by atomic rename; returns seconds."""
    started = time.perf_counter()
    build = build_path_for(warehouse)
    for stale in warehouse.parent.glob(f".{warehouse.name}.publish-*.tmp"):
        stale.unlink(missing_ok=True)  # left by a publish that was killed
    conn = duckdb.connect(str(build))
    try:
        # Another run may have loaded a day after this run's dbt build (runs from the Dagster UI
        # take the lock per step): its users are pending, so this build is not a finished state.
        pending = conn.execute("select count(*) from raw.pending_users").fetchone()[0]
        if pending:
            raise UnfinishedBuildError(
                f"the build file has {pending} pending users from a later load; the run that loaded "
                "them publishes when its dbt build is done")
        for schema, table in conn.execute(
            "select schema_name, table_name from duckdb_tables() where table_name like '%\\_\\_dbt\\_tmp%' escape '\\'"
        ).fetchall():
            conn.execute(f'drop table "{schema}"."{table}"')
        conn.execute("checkpoint")  # fold the WAL in, so the copy is the whole database
    finally:
        conn.close()
    tmp = warehouse.with_name(f".{warehouse.name}.publish-{os.getpid()}.tmp")
    shutil.copyfile(build, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, warehouse)
    dir_fd = os.open(warehouse.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return time.perf_counter() - started
