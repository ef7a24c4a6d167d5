"""The private build file a refresh writes, and the lock that gives a warehouse one refresh at a time.

Readers (analysts, BI tools, `report`) open only the published file. A refresh writes a private
build file beside it and publishes a finished copy by atomic rename, so a reader never blocks the
refresh and never sees a half-built state. A refresh killed at any point leaves the published file
as it was; the build file keeps what is still owed in `raw.pending_users` and the next refresh
finishes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from ..errors import RefreshBusyError, UserError, first_line
from ..files import lock_held_shared
from ..settings import DuckDBLimits, build_path_for, lock_path_for, lock_timeout_seconds
from . import progress

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process
_held_guard = threading.Lock()


# `status` holds the lock shared for a few milliseconds (publish.refresh_running, unbuilt_work_of):
# a refresh retries for this long, saying nothing, before it takes a lock still held for another
# refresh's, even with a lock timeout of 0.
READERS_GRACE_SECONDS = 1.0


@contextlib.contextmanager
def refresh_lock(warehouse: Path, timeout: float | None = None) -> Iterator[None]:
    """One refresh at a time per warehouse; a second one waits, then fails with a clear message."""
    if timeout is None:
        timeout = lock_timeout_seconds()
    lock_path = str(lock_path_for(warehouse))
    with _held_guard:
        if lock_path in _held:
            fd, depth = _held[lock_path]
            _held[lock_path] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        try:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a folder that cannot hold files (/proc), or a file in the path
            raise UserError(f"cannot make the refresh lock {lock_path}: {exc.strerror or exc}") from None
        started = time.monotonic()
        deadline = started + max(timeout, READERS_GRACE_SECONDS)
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started < READERS_GRACE_SECONDS:
                    time.sleep(0.02)
                    continue
                if not waiting and timeout > 0:  # a wait of minutes, said once, not a silent hang
                    progress.report(f"another refresh of {warehouse} is running: waiting for it to finish "
                                    f"(up to {timeout:g}s, ANALYTICS_LOCK_TIMEOUT_SECONDS)")
                    waiting = True
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


# DuckDB's words for a file it cannot read as a database: not one at all, cut short, or a block whose
# checksum fails. A lock another process holds is not among them.
_DAMAGE = ("not a valid DuckDB database file", "Could not read enough bytes", "Corrupt database file",
           "checksum")


def is_damage(first: str) -> bool:
    """DuckDB's line (or a line that holds it) says that a file is damaged."""
    return any(words in first for words in _DAMAGE)


def damage_found(path: Path) -> str | None:
    """DuckDB's line for a file it cannot read as a database, or whose every table, read whole,
    fails a block's checksum; None when it reads the file whole (or fails otherwise: a lock)."""
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        return first_line(exc) if is_damage(first_line(exc)) else None
    try:
        tables = conn.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        for schema, table in tables:
            # names from the file's own catalog, quoted as identifiers; hash(t) reads every column
            relation = ".".join('"' + name.replace('"', '""') + '"' for name in (schema, table))
            try:
                conn.execute(f"select sum(hash(t)) from {relation} as t").fetchall()
            except duckdb.Error as exc:
                if is_damage(first_line(exc)):
                    return first_line(exc)
        return None
    except duckdb.Error as exc:  # its catalog
        return first_line(exc) if is_damage(first_line(exc)) else None
    finally:
        conn.close()


# The way back from a damaged published file that nothing continues ({0}: the file; {1}: " too"
# after the build file). No command line: the one that failed has the --warehouse and --exports to repeat.
_DAMAGED_WAREHOUSE_REMEDY = ("put back a good copy of {0}, or delete it{1} and refresh every export day again "
                             "(`--all`, with this refresh's --warehouse and --exports)")


def damaged_warehouse_error(warehouse: Path, exc: duckdb.Error) -> UserError | None:
    """The one line for a published file that DuckDB finds damaged where a refresh with no build
    file starts from it (None for another error): nothing continues it, so the remedy is a good
    copy or the export days."""
    first = first_line(exc)
    if not is_damage(first):
        return None
    return UserError(f"the warehouse {warehouse} is damaged ({first}): "
                     f"{_DAMAGED_WAREHOUSE_REMEDY.format(warehouse, '')}")


def build_file_error(build: Path, exc: duckdb.Error | str, warehouse: Path | None = None) -> UserError:
    """The one line for a build file that DuckDB cannot open or read. A damaged one would stop every
    refresh until removed: the line says so, and what removing it costs (nothing published is lost).
    When `warehouse`, the published file the next refresh would start from, is damaged as well (the
    build file a copy of it), removing the build file alone would bring the same damage back. `exc`:
    DuckDB's error, or a failed dbt node's line that holds it."""
    first = exc if isinstance(exc, str) else first_line(exc)
    if not is_damage(first):
        return UserError(f"cannot open the build file {build}: {first}")
    if warehouse is not None and warehouse.exists() and damage_found(warehouse):
        return UserError(f"the build file {build} is damaged ({first}), and so is {warehouse}, which the next "
                         "refresh would start from: delete the build file, then "
                         f"{_DAMAGED_WAREHOUSE_REMEDY.format(warehouse, ' too')}")
    return UserError(f"the build file {build} is damaged ({first}): delete it and refresh again; the "
                     "next refresh starts from the published warehouse (anew if none was published yet), and "
                     "`refresh --all` loads again the export days loaded since the last publish")


# Each publish stamps the build file, hence the file it publishes, with an id of its own
# (raw.publishes, numbered); a stamp is `confirmed` once its file is known to have been renamed
# into place (after the rename, or when a later check finds it published), with that file's
# identity (inode, size, modification time). The build file continues the published file while the
# published file's newest stamp is one of the build file's (its confirmed one, and those of
# publishes killed or refused after it), or, when DuckDB cannot open the published file (a reader
# holds it read-write), while the file is the one confirmed. Once the build file has a confirmed
# stamp, another published file (a compact copy built anew, a backup put back) or none at all is
# what the user wants: the build file starts again from it. A build file with no confirmed stamp
# (never published, or made before the stamps) is kept whatever its unconfirmed ones, unless a file
# another build file published is put in place (a backup, after this one started from nothing).
PUBLISHES_DDL = ("create table if not exists raw.publishes (publish_number bigint not null, stamp varchar not null, "
                 "confirmed boolean not null, file_inode bigint, file_size bigint, file_mtime_ns bigint)")


@dataclasses.dataclass(frozen=True)
class PublishStamp:
    stamp: str
    confirmed: bool
    file: tuple[int, int, int] | None  # the published file's (inode, size, mtime_ns) when confirmed


def publish_stamps(path: Path, *, read_only: bool) -> list[PublishStamp]:
    """The file's publish stamps, oldest first ([] when it has none); a duckdb.Error when it cannot
    be read."""
    conn = duckdb.connect(str(path), read_only=read_only)
    try:
        if not conn.execute("select count(*) from duckdb_tables() where schema_name = 'raw' "
                            "and table_name = 'publishes'").fetchone()[0]:
            return []
        rows = conn.execute("select stamp, confirmed, file_inode, file_size, file_mtime_ns from raw.publishes "
                            "order by publish_number").fetchall()
        return [PublishStamp(stamp, bool(confirmed), None if inode is None else (inode, size, mtime))
                for stamp, confirmed, inode, size, mtime in rows]
    finally:
        conn.close()


def _file_identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _confirm(build: Path, stamp: str | None, identity: tuple[int, int, int] | None) -> None:
    """`stamp` (the newest when None) is in place: confirmed, with its file's identity, and the
    older stamps dropped, in one transaction."""
    number = "(select max(publish_number) from raw.publishes where stamp = coalesce(?, stamp))"
    inode, size, mtime = identity or (None, None, None)
    conn = duckdb.connect(str(build))
    try:
        conn.execute("begin")
        conn.execute(f"update raw.publishes set confirmed = true, file_inode = ?, file_size = ?, file_mtime_ns = ? "
                     f"where publish_number = {number}", [inode, size, mtime, stamp])
        conn.execute(f"delete from raw.publishes where publish_number < {number}", [stamp])
        conn.execute("commit")
    finally:
        conn.close()


def stamp_for_publish(warehouse: Path) -> None:
    """A new publish stamp in the build file, just before its publish (under the refresh lock). A
    publish that then publishes nothing (a later load's users pending) or is killed leaves an
    unconfirmed stamp more, which changes nothing. A published file replaced since this build file's
    load (between a Dagster run's steps, which take the lock one by one) is not published over: a
    UserError."""
    build = build_path_for(warehouse)
    if _published_file_replaced(build, warehouse):
        raise UserError(f"{warehouse} was replaced or removed since this run loaded its build file: not "
                        "published over; the next refresh starts again from the file in place")
    conn = duckdb.connect(str(build))
    try:
        conn.execute(PUBLISHES_DDL)
        conn.execute("insert into raw.publishes select coalesce(max(publish_number), 0) + 1, ?, false, null, null, "
                     "null from raw.publishes", [uuid.uuid4().hex])
    finally:
        conn.close()


def published_with_newest_stamp(warehouse: Path) -> None:
    """After a publish renamed its file into place: the build file keeps that publish's stamp alone,
    confirmed, so that an older published file put back (a backup) is seen as a replacement."""
    _confirm(build_path_for(warehouse), None, _file_identity(warehouse))


# (build file's inode, published file's identity) last found to belong together: a run prepares the
# build file at each step, and the published file changes only with a publish (or by the user's
# hand), so the stamps are read again only then.
_published_file_seen: dict[str, tuple] = {}


def _published_file_replaced(build: Path, warehouse: Path) -> bool:
    try:
        seen = (build.stat().st_ino, _file_identity(warehouse))
    except FileNotFoundError:
        seen = None
    except OSError:
        return False  # cannot tell: its own error comes later
    if seen is not None and _published_file_seen.get(str(build)) == seen:
        return False
    try:
        stamps = publish_stamps(build, read_only=False) if build.exists() else []
    except duckdb.Error:
        return False  # cannot tell (damaged, or held by another process): its own error comes when used
    confirmed = [s for s in stamps if s.confirmed]
    if seen is None:
        return bool(confirmed)  # removed after a publish; never published: there was nothing
    try:
        published = publish_stamps(warehouse, read_only=True)
    except duckdb.Error as exc:
        if is_damage(first_line(exc)):
            # A damaged file in place (a disk fault, a broken copy put back) is nobody's choice to
            # start from: the build file goes on, and its publish writes the file anew.
            return False
        # DuckDB cannot open it (a reader holds it read-write, a format it does not read): the file
        # confirmed last is still in place, or it is another (never published: nothing to compare)
        return bool(confirmed) and seen[1] != confirmed[-1].file
    newest = published[-1].stamp if published else None
    if newest not in {s.stamp for s in stamps}:
        # Another file than this build file's. Without a confirmed stamp the build file was never
        # published: a file with a stamp is still another's (a backup put back after the build file
        # started again from nothing), and one without is a file from before the stamps, which the
        # build file, seeded from it, goes on from.
        return bool(confirmed) or newest is not None
    if not next(s for s in stamps if s.stamp == newest).confirmed:
        _confirm(build, newest, seen[1])  # a publish killed after its rename
    _published_file_seen[str(build)] = seen  # _confirm writes the build file in place: its inode stays
    return False


@dataclasses.dataclass(frozen=True)
class UnbuiltWork:
    """Loads the build file holds that no dbt build has taken in yet."""

    full_rebuild: bool  # a full rebuild is owed: one was started (its load marks it) and did not finish
    users: int  # users a load marked pending (raw.pending_users), whose rows no build has recomputed
    models_outdated: bool = False  # the caller's question to the build file (unbuilt_work_of)

    def __bool__(self) -> bool:
        return self.full_rebuild or self.users > 0


def _unbuilt_work(build: Path, models_outdated: Callable[[duckdb.DuckDBPyConnection], bool] | None = None
                  ) -> UnbuiltWork:
    conn = duckdb.connect(str(build), read_only=True)
    try:
        tables = {t for (t,) in conn.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()}
        users = conn.execute("select count(*) from (select distinct assistant_id, user_id from raw.pending_users)"
                             ).fetchone()[0] if "pending_users" in tables else 0
        owed = "refresh_state" in tables and conn.execute(
            "select count(*) from raw.refresh_state where full_refresh_owed").fetchone()[0]
        return UnbuiltWork(bool(owed), users, bool(models_outdated and models_outdated(conn)))
    finally:
        conn.close()


def unbuilt_work_of(warehouse: Path, models_outdated: Callable[[duckdb.DuckDBPyConnection], bool]
                    ) -> UnbuiltWork | None:
    """What a refresh that did not finish left in the build file for the next refresh to build
    (`status`). None when a refresh holds the lock (it is doing that work), when there is no build
    file, or when the build file does not go on from the published file (the next refresh starts
    again from that file: prepare_build_file). Read while holding the refresh lock shared, taken
    without waiting, so that no refresh finds the build file open: one starting meanwhile waits
    for the lock, milliseconds. Nothing is written but the lock's empty file, as a refresh makes it.
    `models_outdated`: whether the build file's models were built with other seeds or models'
    revision, the question the next refresh asks of that file (the published file may differ: a
    refresh that built and did not publish)."""
    # not taken: a refresh holds the lock; None: a folder this user cannot write to, no lock to hold
    with lock_held_shared(lock_path_for(warehouse), create=True) as taken:
        if not taken:
            return None
        build = build_path_for(warehouse)
        if not build.exists():
            return None
        try:
            published = publish_stamps(warehouse, read_only=True)
            if not published or published[-1].stamp not in {s.stamp for s in publish_stamps(build, read_only=True)}:
                return None
            return _unbuilt_work(build, models_outdated)
        except duckdb.Error:
            return None  # a damaged build file: the next refresh says what to do


def prepare_build_file(warehouse: Path, *, may_drop_loads: bool = True) -> Path:
    """Returns the build file in STORAGE_VERSION's format, seeding it from the published warehouse
    (or creating it empty) when it is missing, or when the published file was replaced or removed
    since the build file last published it; converting it when it is in a newer format. A build
    file DuckDB cannot open is a UserError (build_file_error). `may_drop_loads` False (a run's dbt
    step): a build file that must start again while it holds loads not yet built (this run's) is a
    UserError, not loads dropped by a run that then succeeds."""
    build = build_path_for(warehouse)
    build.parent.mkdir(parents=True, exist_ok=True)
    restarted = build.exists() and _published_file_replaced(build, warehouse)
    what = "replaced" if warehouse.exists() else "removed"
    if restarted:
        from ..settings import analytics_engine, spark_dir_for

        spark_dir = spark_dir_for(warehouse)
        if analytics_engine() == "spark" and spark_dir.exists():
            # Spark's raw tables and models followed the old build file: a refresh would load their
            # days again into the new one (they differ from its own). The user chooses.
            raise UserError(
                f"{warehouse} was {what} since the last refresh published it, and the Spark folder {spark_dir} "
                f"holds what the old build file held: to start again from the file in place, delete "
                f"{spark_dir} and {build} (the next Spark refresh loads the days the file holds and rebuilds "
                f"every model); to go on from the old build file, put it in place instead")
        if not may_drop_loads and _unbuilt_work(build):
            raise UserError(f"{warehouse} was {what} during this run, after its load: its loaded days are not "
                            "built on the file in place; refresh them again")
        # the write-ahead log first: one left beside a fresh copy would be replayed onto it
        build.with_name(build.name + ".wal").unlink(missing_ok=True)
        build.unlink()
    if not build.exists():
        # A write-ahead log left by a refresh killed before the build file was deleted by hand (as
        # the damaged build file's line says to) belongs to the file that is gone: DuckDB would
        # replay it onto the new one and refuse to open it, on every refresh after.
        build.with_name(build.name + ".wal").unlink(missing_ok=True)
        tmp = build.with_name(build.name + ".tmp")
        tmp.unlink(missing_ok=True)
        if warehouse.exists():
            shutil.copyfile(warehouse, tmp)
        else:
            duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION}).close()
        os.replace(tmp, build)
    if restarted:
        start = "it" if warehouse.exists() else "nothing"
        progress.report(f"{warehouse} was {what} since the last refresh published it: the build file starts "
                        f"again from {start}")
    try:
        found = storage_version(build)
    except duckdb.Error as exc:
        raise build_file_error(build, exc, warehouse) from None
    if _newer_than_chosen(found):
        convert_storage(build)
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
    """A read-write connection to the build file, closed on exit so dbt can open it next. A block
    of it that fails its checksum on the way is the damaged build file's one line."""
    build = prepare_build_file(warehouse)
    with damage_named(warehouse):
        conn = duckdb.connect(str(build), config=DuckDBLimits.from_env().config())
        try:
            yield conn
        finally:
            conn.close()


@contextlib.contextmanager
def damage_named(warehouse: Path) -> Iterator[None]:
    """DuckDB's error for a damaged block of the build file, met within (a load's query, the
    publish's replay of the write-ahead log or its checkpoint), as the damaged build file's one
    line, which names the file and says what to do."""
    try:
        yield
    except duckdb.Error as exc:
        if is_damage(first_line(exc)):
            raise build_file_error(build_path_for(warehouse), exc, warehouse) from None
        raise
