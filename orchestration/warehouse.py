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
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import RefreshBusyError, UnfinishedBuildError
from .settings import DuckDBLimits, build_path_for, lock_timeout_seconds

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process
_held_guard = threading.Lock()


@contextlib.contextmanager
def refresh_lock(warehouse: Path, timeout: float | None = None) -> Iterator[None]:
    """One refresh at a time per warehouse; a second one waits, then fails with a clear message."""
    if timeout is None:
        timeout = lock_timeout_seconds()
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


# The storage format of the build file, hence of the published one. DuckDB's long-term-support
# release (1.4) and every newer one read it; DuckDB 2.0's own format is readable by 2.0 and newer
# only, which would shut out the DuckDB CLI and the JDBC drivers that BI tools bundle. A file keeps
# the format it was created in whatever release writes to it later (dbt included), so the format
# is decided where the build file is created, and a build file in a newer format is converted.
STORAGE_VERSION = "v1.4.0"


def prepare_build_file(warehouse: Path) -> Path:
    """Returns the build file in STORAGE_VERSION's format, seeding it from the published warehouse
    (or creating it empty) when it is missing, converting it when it is in a newer format."""
    build = build_path_for(warehouse)
    build.parent.mkdir(parents=True, exist_ok=True)
    if not build.exists():
        tmp = build.with_name(build.name + ".tmp")
        tmp.unlink(missing_ok=True)
        if warehouse.exists():
            shutil.copyfile(warehouse, tmp)
        else:
            duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION}).close()
        os.replace(tmp, build)
    found = storage_version(build)
    if _newer_than_chosen(found):
        convert_storage(build)
        from . import progress

        progress.report(f"converted {build} from DuckDB storage format {found} to {STORAGE_VERSION}+ "
                        "(readable by DuckDB 1.4 and newer); the next publish carries it over")
    return build


def storage_version(path: Path) -> str:
    """DuckDB's name for the storage format of the file, such as 'v1.4.0+'."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute("select tags['storage_version'] from duckdb_databases() "
                            "where database_name = current_database()").fetchone()[0] or ""
    finally:
        conn.close()


def _version_tuple(tag: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\+?", tag.strip())
    return tuple(int(g) for g in match.groups()) if match else None


def _newer_than_chosen(tag: str) -> bool:
    found = _version_tuple(tag)
    return found is None or found > _version_tuple(STORAGE_VERSION)  # an unknown name: convert to be sure


def convert_storage(path: Path) -> None:
    """Rewrites the DuckDB file at `path` in STORAGE_VERSION's format (every schema, table, view
    and row), replacing it by atomic rename: killed half-way, the file is as it was."""
    tmp = path.with_name(path.name + ".convert.tmp")
    tmp.unlink(missing_ok=True)
    conn = duckdb.connect(config=DuckDBLimits.from_env().config())
    try:
        conn.execute("attach ? as source (read_only)", [str(path)])
        conn.execute(f"attach ? as converted (storage_version '{STORAGE_VERSION}')", [str(tmp)])
        conn.execute("copy from database source to converted")
        conn.execute("detach converted")
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp, path)


@contextlib.contextmanager
def build_connection(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the build file, closed on exit so dbt can open it next."""
    conn = duckdb.connect(str(prepare_build_file(warehouse)), config=DuckDBLimits.from_env().config())
    try:
        yield conn
    finally:
        conn.close()


@dataclass(frozen=True)
class Published:
    seconds: float
    bytes_written: int  # what the copy wrote: the whole file, or only the blocks that differ
    reused_spare: bool


def spare_path_for(warehouse: Path) -> Path:
    """The previous published file, kept after a publish so the next one rewrites only what changed."""
    return warehouse.with_name(f".{warehouse.stem}.spare{warehouse.suffix}")


def publish(warehouse: Path) -> Published:
    """Makes the finished build file the published warehouse, by atomic rename.

    The new published file is the spare (the file published before the current one) brought up
    to date block by block when no reader holds it, else a whole copy of the build file. The
    outgoing published file becomes the next spare: readers that hold it keep reading it.
    """
    started = time.perf_counter()
    build = build_path_for(warehouse)
    spare = spare_path_for(warehouse)
    for stale in [*warehouse.parent.glob(f".{warehouse.name}.publish-*.tmp"),
                  *warehouse.parent.glob(f"{spare.name}.*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a publish that was killed (a half-updated spare)
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
        conn.execute("checkpoint")  # fold the WAL in, so the file is the whole database
        block_size = conn.execute("select block_size from pragma_database_size()").fetchone()[0]
    finally:
        conn.close()
    tmp = warehouse.with_name(f".{warehouse.name}.publish-{os.getpid()}.tmp")
    written = None
    if spare.exists():
        with _unread(spare) as free:
            if free:
                # Claimed by rename first: a kill from here on leaves a stale tmp, never a spare
                # whose blocks are half-written.
                os.replace(spare, tmp)
                written = sync_blocks(build, tmp, block_size)
    synced = written is not None
    if not synced:
        tmp.unlink(missing_ok=True)  # a claimed spare of another layout
        shutil.copyfile(build, tmp)
        written = build.stat().st_size
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    outgoing = spare.with_name(f"{spare.name}.{os.getpid()}.tmp")
    keep_outgoing = False
    if warehouse.exists():
        try:
            os.link(warehouse, outgoing)
            keep_outgoing = True
        except OSError:
            pass  # no hard links here: every publish copies the whole file
    os.replace(tmp, warehouse)
    if keep_outgoing:
        os.replace(outgoing, spare)
    dir_fd = os.open(warehouse.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return Published(time.perf_counter() - started, written, synced)


@contextlib.contextmanager
def _unread(path: Path) -> Iterator[bool]:
    """Whether no DuckDB connection, in any process (this one too), holds `path`; holds it meanwhile.

    DuckDB locks its file with fcntl for as long as a database is open; an open-file-description
    lock conflicts with those locks whoever holds them, so it also sees this process's own readers.
    """
    ofd_setlk = getattr(fcntl, "F_OFD_SETLK", None)  # Linux only; elsewhere: whole copies
    if ofd_setlk is None:
        yield False
        return
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.fcntl(fd, ofd_setlk, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
            free = True
        except OSError:
            free = False
        yield free
    finally:
        os.close(fd)  # releases the lock


_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers
_COMPARE_RUN_BLOCKS = 64  # blocks read from each file at a time


def sync_blocks(source: Path, target: Path, block_size: int) -> int | None:
    """Rewrites `target` into a byte copy of `source`, writing only the blocks whose bytes differ.

    Both are DuckDB files of the same storage version, checkpointed (no WAL). Every block of both
    files is read and compared whole: a block's stored checksum says nothing about bytes damaged
    after it was written (a bad disk, a stray write), and a publish must never differ from the
    build file. Returns the bytes written, or None when a file does not have the expected layout
    (the caller copies it whole).
    """
    src_size, dst_size = source.stat().st_size, target.stat().st_size
    src = os.open(source, os.O_RDONLY)
    dst = os.open(target, os.O_RDWR)
    try:
        src_head, dst_head = os.pread(src, _HEADER_BYTES, 0), os.pread(dst, _HEADER_BYTES, 0)
        if (src_head[8:20] != dst_head[8:20] or src_head[8:12] != b"DUCK"  # magic + storage version
                or (src_size - _HEADER_BYTES) % block_size or (dst_size - _HEADER_BYTES) % block_size):
            return None
        for fd in (src, dst):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        run_bytes = _COMPARE_RUN_BLOCKS * block_size
        written = 0
        offsets = range(_HEADER_BYTES, src_size, run_bytes)

        def read_run(offset: int) -> tuple[Future, Future]:
            length = min(run_bytes, src_size - offset)
            return readers.submit(_read_exactly, src, length, offset), readers.submit(os.pread, dst, length, offset)

        # Both files are read at once, one run ahead of the comparison: the reads (which release
        # the GIL) are what this costs.
        with ThreadPoolExecutor(max_workers=4) as readers:
            ahead = read_run(offsets[0]) if offsets else None
            for i, offset in enumerate(offsets):
                wanted_read, have_read = ahead
                ahead = read_run(offsets[i + 1]) if i + 1 < len(offsets) else None
                written += _write_differing_blocks(dst, offset, wanted_read.result(), have_read.result(),
                                                   block_size)
        os.ftruncate(dst, src_size)
        # The headers last: they point at the new blocks.
        os.pwrite(dst, src_head, 0)
        return written + _HEADER_BYTES
    finally:
        os.close(src)
        os.close(dst)


def _write_differing_blocks(dst: int, offset: int, wanted: bytes, have: bytes, block_size: int) -> int:
    """Writes the blocks of `wanted` (the source's bytes at `offset`) that differ from `have`."""
    if wanted == have:
        return 0
    written = 0
    # Each stretch of adjacent differing blocks in one write (bytes slices compare with memcmp;
    # memoryviews would compare item by item).
    first_differing = None
    for start in range(0, len(wanted) + block_size, block_size):
        differs = start < len(wanted) and wanted[start:start + block_size] != have[start:start + block_size]
        if differs and first_differing is None:
            first_differing = start
        elif not differs and first_differing is not None:
            written += _write_exactly(dst, memoryview(wanted)[first_differing:start], offset + first_differing)
            first_differing = None
    return written


def _read_exactly(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise OSError(f"short read at byte {offset + len(data)}")
        data += more
    return data


def _write_exactly(fd: int, data: memoryview, offset: int) -> int:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)
    return done
