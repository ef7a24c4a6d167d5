"""Publishing: the finished build file becomes the file readers open, by atomic rename.

Readers (analysts, BI tools, `report`) open only the published file, so a reader never blocks the
refresh and never sees a half-built state.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import UnfinishedBuildError, UserError
from ..files import lock_held_shared
from ..settings import build_path_for, lock_path_for, publish_path_for


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
        # take the lock per step): its users are pending, or, a load for a full rebuild, a full
        # rebuild is owed (such a load marks no user), so this build is not a finished state.
        pending = conn.execute("select count(*) from raw.pending_users").fetchone()[0]
        if pending:
            raise UnfinishedBuildError(
                f"the build file has {pending} pending users from a later load; the next dbt build (the "
                "run that loaded them, or the next refresh) recomputes and publishes them")
        if conn.execute("select count(*) from duckdb_tables() where schema_name = 'raw' "
                        "and table_name = 'refresh_state'").fetchone()[0] and \
                conn.execute("select count(*) from raw.refresh_state where full_refresh_owed").fetchone()[0]:
            raise UnfinishedBuildError(
                "the build file owes a full rebuild from a later load; the next dbt build (the run that "
                "loaded it, or the next refresh) rebuilds every model and publishes them")
        for schema, table in conn.execute(
            "select schema_name, table_name from duckdb_tables() where table_name like '%\\_\\_dbt\\_tmp%' escape '\\'"
        ).fetchall():
            conn.execute(f'drop table "{schema}"."{table}"')
        conn.execute("checkpoint")  # fold the WAL in, so the file is the whole database
        block_size = conn.execute("select block_size from pragma_database_size()").fetchone()[0]
    finally:
        conn.close()
    tmp = publish_path_for(warehouse, os.getpid())
    written = None
    try:
        if spare.exists() and _claimed_unopened(spare, tmp):
            # Claimed by rename first: a kill from here on leaves a stale tmp, never a spare whose
            # blocks are half-written.
            written = sync_blocks(build, tmp, block_size)
        synced = written is not None
        if not synced:
            tmp.unlink(missing_ok=True)  # a claimed spare of another layout, or opened meanwhile
            shutil.copyfile(build, tmp)
            written = build.stat().st_size
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    except BaseException as exc:
        # A copy that failed (a full disk) is not left to keep the disk full until the next publish;
        # the spare it may have been is gone, and the next publish copies the whole file.
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a write's error names no file: say which
            raise OSError(exc.errno, f"{exc.strerror} (writing the copy to publish)", str(tmp)) from None
        raise
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
        try:
            os.replace(outgoing, spare)
        except OSError:  # a folder in the spare's place, say: the next publish copies the whole file
            outgoing.unlink(missing_ok=True)
    dir_fd = os.open(warehouse.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return Published(time.perf_counter() - started, written, synced)


# A publish happens once per refresh, so an open that a publish tore succeeds when repeated; the
# pause lets a publish that is renaming files finish first. The opens are repeated for a time, not
# a number of times: on a busy machine a publish's renames can outlast a few quick attempts.
_OPEN_PATIENCE_SECONDS = 5.0
_OPEN_RETRY_PAUSE_SECONDS = 0.05


def connect_published(warehouse: Path, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse that a concurrent publish cannot tear.

    DuckDB 2.0 opens a file three times to connect: it reads the headers through the second open
    and the blocks through the third. A publish that renames the new file into place between them
    pairs the old file's headers with the new file's blocks: an IO error ("No more data remaining
    in MetadataReader"), or rows of neither state. Every publish puts another file at the path or
    renames one there (a new inode, or a new change time), so when the path names the same file
    before and after the connection opened, all three opens read that file; else it is opened again.
    """
    deadline = time.monotonic() + _OPEN_PATIENCE_SECONDS
    while True:
        before = _file_identity(warehouse)
        try:
            conn = duckdb.connect(str(warehouse), read_only=True, config=config or {})
        except duckdb.IOException:
            if time.monotonic() >= deadline or _file_identity(warehouse) == before:
                raise
        else:
            if _file_identity(warehouse) == before:
                return conn
            conn.close()
            if time.monotonic() >= deadline:
                raise duckdb.IOException(f"{warehouse} was replaced by a publish each time it was opened "
                                         f"for {_OPEN_PATIENCE_SECONDS:.0f} s")
        time.sleep(_OPEN_RETRY_PAUSE_SECONDS)


def _file_identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


@contextlib.contextmanager
def _write_lease(fd: int) -> Iterator[bool]:
    """Holds a write lease (Linux) on the file open as `fd` meanwhile, if it can be had: whether it
    was. The kernel grants one only while no other descriptor of the file is open, in any process.
    Another process that opens the file while the lease is held waits until it is given back (the
    lease is then broken: `_lease_intact`), and this process is signalled: with SIGURG, which it
    ignores (the default, SIGIO, would end it)."""
    setlease, setsig = getattr(fcntl, "F_SETLEASE", None), getattr(fcntl, "F_SETSIG", None)
    if setlease is None or setsig is None:  # Linux only; elsewhere: whole copies
        yield False
        return
    try:
        fcntl.fcntl(fd, setsig, signal.SIGURG)
        fcntl.fcntl(fd, setlease, fcntl.F_WRLCK)
    except OSError:  # open elsewhere (EAGAIN), or no lease here (not the file's owner, the file system)
        yield False
        return
    try:
        yield True
    finally:
        fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)


def _lease_intact(fd: int) -> bool:
    """Whether the write lease on `fd` is still whole: no other process opened the file since."""
    return fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_WRLCK


def _claimed_unopened(spare: Path, tmp: Path) -> bool:
    """Renames `spare` to `tmp` if no process (this one too) has it open, nor can open it by another
    name, and this process may write it: whether it is to be brought up to date in place. When it
    was renamed but is not (another process opened it meanwhile), `tmp` is left for the caller to
    replace with a new file.

    Told by a write lease, which sees every reader, DuckDB's or any other. DuckDB's own fcntl lock
    cannot be relied on for that: it is its process's, and a process loses it when it closes any
    descriptor of the file (a second attachment detached, a plain open and close) while its
    connection still reads the file. The rename happens under the lease (a rename does not break
    it), and the lease is checked after it: a process that opened the spare before it was renamed
    has the file, so it must not be written. A file with another name (a hard link: a backup made
    with `cp -l` or `rsync --link-dest`) or a symbolic link is never written in place either.
    """
    try:
        fd = os.open(spare, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:  # a spare this process may not write (its permissions), a link, or no file at all
        return False
    try:
        if os.fstat(fd).st_nlink != 1:
            return False
        with _write_lease(fd) as granted:
            if not granted:
                return False
            os.replace(spare, tmp)
            return _lease_intact(fd)
    finally:
        os.close(fd)


_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


def is_duckdb_header(head: bytes) -> bool:
    """Whether a file's first bytes are a DuckDB file's: its magic bytes, after the checksum."""
    return head[8:12] == b"DUCK"


def check_duckdb_file(warehouse: Path, *, if_empty: str, otherwise: str, error: type[UserError] = UserError) -> None:
    """One line (`error`, with the advice given) unless the regular file `warehouse` begins as a
    DuckDB file does. DuckDB's own errors for such a file mislead: it takes an empty file for a
    damaged database, and a name ending in .csv or .parquet for a data file to query in memory."""
    try:
        with open(warehouse, "rb") as file:
            head = file.read(12)
    except OSError as exc:
        raise error(f"cannot read the warehouse {warehouse}: {exc.strerror or exc}") from None
    if not head:
        raise error(f"the warehouse {warehouse} is an empty file, not a DuckDB file: {if_empty}")
    if not is_duckdb_header(head):
        raise error(f"the warehouse {warehouse} is not a DuckDB file: {otherwise}")


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
        if (src_head[8:20] != dst_head[8:20] or not is_duckdb_header(src_head)  # magic + storage version
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


def refresh_running(warehouse: Path) -> bool:
    """Whether a refresh holds the warehouse's lock (tried without waiting, released at once): the
    lock a refresh holds from its load to its publish."""
    with lock_held_shared(lock_path_for(warehouse), create=False) as taken:
        return taken is False
