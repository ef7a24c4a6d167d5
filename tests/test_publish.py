"""Publishing the build file: a whole copy, or the spare brought up to date block by block.

The files here are plain DuckDB files written by the test (no dbt): what matters is that after any
publish the published file is byte for byte the finished build file, that only changed blocks are
written when the spare is free, and that a reader holding the spare (in another process or in this
one) makes the publish copy the whole file and keeps reading its own state.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import copy_warehouse

from orchestration.publish.publish import connect_published, publish, spare_path_for, sync_blocks
from orchestration.settings import build_path_for


def _build(warehouse: Path, sql: str) -> None:
    conn = duckdb.connect(str(build_path_for(warehouse)))
    try:
        conn.execute("set threads = 1")
        conn.execute("create schema if not exists raw")
        conn.execute("create table if not exists raw.pending_users "
                     "(export_date date, assistant_id varchar, user_id varchar)")
        conn.execute(sql)
    finally:
        conn.close()


def _count(path: Path, sql: str = "select count(*), sum(v) from t") -> tuple:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def published_twice(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("published") / "warehouse.duckdb"
    # ~40 MB over many blocks, so one refresh's changes touch a minority of them
    _build(wh, "create table t as select i as k, i % 97 as v, md5(cast(i as varchar)) as s from range(1500000) r(i)")
    first = publish(wh)
    assert not first.reused_spare and not spare_path_for(wh).exists()  # nothing was published before
    _build(wh, "update t set v = v + 1 where k < 1000")
    second = publish(wh)
    assert not second.reused_spare and spare_path_for(wh).exists()  # the first published file is kept
    return wh


@pytest.fixture
def warehouse(published_twice: Path, tmp_path: Path) -> Path:
    """A copy of the files of a warehouse published twice (published file, build file, spare)."""
    return copy_warehouse(published_twice, tmp_path / "warehouse.duckdb")


def test_a_free_spare_is_brought_up_to_date_writing_only_changed_blocks(warehouse: Path):
    build, spare = build_path_for(warehouse), spare_path_for(warehouse)
    outgoing = warehouse.stat().st_ino
    _build(warehouse, "delete from t where k between 20000 and 21000; "
                      "insert into t select i, 7, 'new' from range(2000000, 2010000) r(i)")
    done = publish(warehouse)
    assert done.reused_spare
    assert done.bytes_written < build.stat().st_size / 2, done
    assert filecmp.cmp(build, warehouse, shallow=False)
    assert spare.stat().st_ino == outgoing  # the file published before is now the spare
    assert _count(warehouse) == _count(build)
    assert _count(warehouse, "select count(*) from t where v = 7 and s = 'new'") == (10000,)

    # The build shrinks (a dropped table, its blocks freed and truncated): still an exact copy.
    _build(warehouse, "create table u as select * from t; checkpoint; drop table u; checkpoint")
    publish(warehouse)
    _build(warehouse, "delete from t where k % 2 = 0")
    done = publish(warehouse)
    assert done.reused_spare and filecmp.cmp(build, warehouse, shallow=False)
    assert _count(warehouse, "select count(*) from t where k % 2 = 0") == (0,)


# A reader in another process: a connection, and two ways its process loses DuckDB's lock on the
# file it still reads (the lock is the process's fcntl lock, which any close of a descriptor of that
# file in the process releases)
_READERS = {
    "a connection": (
        "conn = duckdb.connect(spare, read_only=True)\n"
        "query = 'select count(*), sum(v) from t'\n"),
    "a second attachment of the file detached": (
        "conn = duckdb.connect()\n"
        "conn.execute(f\"attach '{spare}' as wh (read_only)\")\n"
        "other = duckdb.connect()\n"
        "other.execute(f\"attach '{spare}' as wh2 (read_only)\")\n"
        "other.execute('detach wh2')\n"
        "query = 'select count(*), sum(v) from wh.t'\n"),
    "the file opened and closed beside the connection": (
        "conn = duckdb.connect(spare, read_only=True)\n"
        "open(spare, 'rb').close()\n"
        "query = 'select count(*), sum(v) from t'\n"),
}


@pytest.mark.parametrize("reader", list(_READERS))
def test_a_spare_held_by_a_reader_in_another_process_is_left_alone(warehouse: Path, reader: str):
    """A reader is told by its open file, not by DuckDB's lock: a process that closes any other
    descriptor of the file (a second attachment detached, a plain open and close) loses that lock
    while its connection still reads the file, and the spare was then rewritten under it (a BI
    tool's query failed with "Corrupted ... segment", or returned other rows)."""
    spare = spare_path_for(warehouse)
    before = _count(spare)
    proc = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys\nspare = {str(spare)!r}\n" + _READERS[reader] +
         "print(conn.execute(query).fetchone(), flush=True)\n"
         "sys.stdin.readline()\n"
         "print(conn.execute(query).fetchone(), flush=True)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == str(before)
        _build(warehouse, "update t set v = 0 where k < 500000")
        done = publish(warehouse)
        assert not done.reused_spare and done.bytes_written == build_path_for(warehouse).stat().st_size
        assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
        out, _ = proc.communicate("\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.strip() == str(before)  # the reader's file was not written under it
    assert proc.returncode == 0

def test_a_file_opened_while_the_publish_holds_its_lease_does_not_end_the_refresh(tmp_path: Path):
    """The lease that tells a spare nobody has open is held for an instant; a process that opens the
    file then (a backup of the data folder, say) waits for it, and the kernel signals the publish's
    process: with SIGIO by default, which would end the refresh. Run in a process of its own."""
    spare = tmp_path / "spare.duckdb"
    spare.write_bytes(b"x" * 4096)
    script = (
        "import subprocess, sys, time\n"
        "from pathlib import Path\n"
        "from orchestration.publish.publish import _lease_intact, _write_lease\n"
        f"spare = {str(spare)!r}\n"
        "import os\n"
        "fd = os.open(spare, os.O_RDWR)\n"
        "with _write_lease(fd) as granted:\n"
        "    assert granted\n"
        "    opener = subprocess.Popen([sys.executable, '-c', f'open({spare!r}, \"rb\").close(); print(\"opened\")'],\n"
        "                              stdout=subprocess.PIPE, text=True)\n"
        "    deadline = time.monotonic() + 60\n"
        "    while _lease_intact(fd):  # until its open waits for the lease: the kernel signals this process\n"
        "        assert time.monotonic() < deadline, 'the opener never opened the file'\n"
        "        time.sleep(0.05)\n"
        "    time.sleep(0.2)\n"
        "os.close(fd)\n"
        "print(opener.communicate(timeout=60)[0].strip(), 'and the lease holder lives')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "opened and the lease holder lives"), done.stderr

def test_a_spare_opened_while_the_publish_claims_it_is_left_alone(warehouse: Path, monkeypatch):
    """A process that opens the spare in the instant the publish holds its lease (a backup of the
    folder) waits, then has the file: the lease, broken by that open, is checked after the spare is
    claimed by rename, and the claimed file is then left to that process, not written."""
    import orchestration.publish.publish as publishing

    spare = spare_path_for(warehouse)
    before = spare.read_bytes()
    taken = publishing._write_lease
    opened = {}

    @contextlib.contextmanager
    def opened_meanwhile(fd):
        with taken(fd) as granted:
            opened["by"] = subprocess.Popen(
                [sys.executable, "-c", "import sys, time\n"
                 f"f = open({str(spare)!r}, 'rb')\n"  # waits for the lease
                 "print('opened', flush=True)\n"
                 "sys.stdin.readline()\n"
                 "sys.stdout.buffer.write(f.read())\n"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while publishing._lease_intact(fd):
                assert time.monotonic() < deadline, "the other process never opened the spare"
                time.sleep(0.05)
            yield granted

    monkeypatch.setattr(publishing, "_write_lease", opened_meanwhile)
    _build(warehouse, "update t set v = 0 where k < 500000")
    reader = None
    try:
        done = publish(warehouse)
        reader = opened["by"]
        assert reader.stdout.readline() == b"opened\n"
        assert not done.reused_spare
        assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
        out, _ = reader.communicate(b"\n", timeout=60)
    finally:
        if reader is not None and reader.poll() is None:
            reader.kill()
    assert out == before  # the file it opened was not written under it


@pytest.mark.parametrize("named", ["a hard link", "a symbolic link"])
def test_a_spare_that_is_also_another_file_is_not_written(warehouse: Path, tmp_path: Path, named: str):
    """A spare with another name (a hard link a backup made: `cp -al`, `rsync --link-dest`), or a
    symbolic link in its place, is never written in place: the backup would change."""
    spare = spare_path_for(warehouse)
    backup = tmp_path / "backup.duckdb"
    if named == "a hard link":
        os.link(spare, backup)
    else:
        spare.rename(backup)
        spare.symlink_to(backup)
    before = backup.read_bytes()
    _build(warehouse, "update t set v = 0 where k < 500000")
    done = publish(warehouse)
    assert not done.reused_spare
    assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
    assert backup.read_bytes() == before

def test_a_spare_held_in_this_process_is_left_alone(warehouse: Path):
    spare = spare_path_for(warehouse)
    conn = duckdb.connect(str(spare), read_only=True)
    try:
        before = conn.execute("select count(*), sum(v) from t").fetchone()
        _build(warehouse, "update t set v = 0 where k < 500000")
        assert not publish(warehouse).reused_spare
        assert conn.execute("select count(*), sum(v) from t").fetchone() == before
    finally:
        conn.close()
    assert _count(warehouse) == _count(build_path_for(warehouse))


def _damage_blocks(path: Path, blocks: list[int]) -> None:
    """Garbage inside blocks, each block's stored checksum (its first 8 bytes) left as it was: what
    a bad disk or a stray write does, and what the checksums alone cannot see."""
    block_size = _count(path, "select block_size from pragma_database_size()")[0]
    assert 3 * 4096 + (max(blocks) + 1) * block_size <= path.stat().st_size
    with open(path, "r+b") as f:
        for block in blocks:
            f.seek(3 * 4096 + block * block_size + 1000)
            f.write(b"garbage!" * 512)


def _all_tables_readable(path: Path) -> None:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        for schema, table in conn.execute("select schema_name, table_name from duckdb_tables()").fetchall():
            conn.execute(f'select * from "{schema}"."{table}"').fetchall()
    finally:
        conn.close()


def test_a_damaged_spare_is_not_published(warehouse: Path):
    _damage_blocks(spare_path_for(warehouse), [2, 40, 100])
    _build(warehouse, "update t set v = 5 where k < 100")
    done = publish(warehouse)
    assert done.reused_spare
    assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
    _all_tables_readable(warehouse)
    assert _count(warehouse) == _count(build_path_for(warehouse))


def test_a_damaged_published_file_is_not_published_again(warehouse: Path):
    _damage_blocks(warehouse, [3, 60, 90])
    # The damaged file becomes the spare at the next publish and is rewritten at the one after.
    for i in range(2):
        _build(warehouse, f"update t set v = {i} where k < 100")
        done = publish(warehouse)
        assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
    assert done.reused_spare
    _all_tables_readable(warehouse)
    assert _count(warehouse) == _count(build_path_for(warehouse))


def test_files_of_another_layout_are_not_synced_block_by_block(tmp_path: Path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    duckdb.connect(str(a)).close()
    b.write_bytes(b"not a duckdb file" * 1000)
    assert sync_blocks(a, b, 262144) is None
    assert b.read_bytes() == b"not a duckdb file" * 1000


def test_a_killed_publish_leaves_no_spare_to_trust(warehouse: Path):
    # A publish killed while it rewrote the spare leaves it as a stale temporary file: the next
    # publish deletes it and copies the whole file.
    spare = spare_path_for(warehouse)
    stale = warehouse.with_name(f".{warehouse.name}.publish-999999.tmp")
    spare.rename(stale)
    with open(stale, "r+b") as f:  # half-written blocks
        f.seek(20000)
        f.write(b"\0" * 300000)
    _build(warehouse, "update t set v = 1 where k < 10")
    done = publish(warehouse)
    assert not done.reused_spare and not stale.exists()
    assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)


@pytest.mark.parametrize("unusable", ["not writable", "a folder"])
def test_a_spare_this_process_cannot_write_is_left_and_the_build_file_copied(warehouse: Path, monkeypatch,
                                                                               unusable: str):
    """The spare only saves time: one this process may not open for writing (its permissions; as
    root the test stands in for that by refusing the open) or that is a folder leaves the publish a
    whole copy of the build file, not a failed refresh."""
    import orchestration.publish.publish as publishing

    spare = spare_path_for(warehouse)
    if unusable == "a folder":
        spare.unlink()
        spare.mkdir()
    else:
        opened = os.open

        def refused(path, flags, *args):
            if Path(path) == spare and flags & os.O_RDWR:
                raise PermissionError(13, "Permission denied", str(path))
            return opened(path, flags, *args)

        monkeypatch.setattr(publishing.os, "open", refused)
    _build(warehouse, "update t set v = 2 where k < 10")
    done = publish(warehouse)
    assert not done.reused_spare
    assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)
    assert sorted(p.name for p in warehouse.parent.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize("fails_in", ["sync_blocks", "copyfile"])
def test_a_publish_that_runs_out_of_space_leaves_no_partial_file(warehouse: Path, monkeypatch, fails_in: str):
    """The disk fills while the spare is brought up to date, or while the build file is copied
    (no free spare): the publish fails with the system's error, the published file is the one
    before, and no partial temporary file is left to keep the disk full."""
    import orchestration.publish.publish as publishing

    before = warehouse.read_bytes()

    def out_of_space(src, dst, *args, **kwargs):
        with open(dst, "r+b" if Path(dst).exists() else "wb") as f:
            f.write(b"\0" * 100_000)  # a part written, then the disk is full
        raise OSError(28, "No space left on device")

    if fails_in == "sync_blocks":
        monkeypatch.setattr(publishing, "sync_blocks", out_of_space)
    else:
        spare_path_for(warehouse).unlink()
        monkeypatch.setattr(publishing.shutil, "copyfile", out_of_space)
    _build(warehouse, "update t set v = 2 where k < 10")
    with pytest.raises(OSError) as failed:
        publish(warehouse)
    # the line names where the disk filled (the write's own error names no file)
    assert str(failed.value) == (f"[Errno 28] No space left on device (writing the copy to publish): "
                                 f"'{warehouse.parent}/.{warehouse.name}.publish-{os.getpid()}.tmp'")
    assert warehouse.read_bytes() == before
    assert not list(warehouse.parent.glob(f".{warehouse.name}.publish-*.tmp"))
    monkeypatch.undo()
    publish(warehouse)  # once there is room, the next publish copies the whole file
    assert filecmp.cmp(build_path_for(warehouse), warehouse, shallow=False)


# Renames files of a ring into place at the path, as fast as it can, `burst` at a time with a pause
# between bursts. Its own process: the renames must not wait for the opener's interpreter.
SWAPPER = r"""
import os, sys, time
from pathlib import Path
folder, stop, burst, pause = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ring = sorted(folder.glob("ring-*.duckdb"), key=lambda p: int(p.stem.removeprefix("ring-")))
path = folder / "warehouse.duckdb"
i = 0
while not stop.exists():
    for _ in range(burst):
        os.replace(ring[i % len(ring)], path)
        os.link(path, ring[i % len(ring)])  # the file at the path stays in the ring too
        i += 1
    time.sleep(pause)
"""
SMALL, LARGE = 1000, 2000  # the rows of table t in the two states


def _open_while_swapped(folder: Path, opener, ring: int, burst: int, pause: float, seconds: float,
                        until_torn: bool = False, until_overlapped: int | None = None, min_seconds: float = 0,
                        ) -> tuple[list[int], list[str], int]:
    """Opens `folder/warehouse.duckdb` again and again with `opener` while another process renames
    the `ring` files of two states into its place, for at most `seconds`. Returns the row counts
    read, the errors raised (up to the first, with `until_torn`) and how many opens a rename
    overlapped (with `until_overlapped`: once that many were, both states read and `min_seconds`
    passed, it stops)."""
    for state, rows in enumerate((SMALL, LARGE)):
        conn = duckdb.connect()
        conn.execute("attach ? as f (block_size 16384)", [str(folder / f"state-{state}.duckdb")])
        if state == 0:  # other data first: the two states keep their metadata in different blocks
            conn.execute("create table f.filler as select range as x, md5(range::varchar) as s from range(5000)")
        conn.execute("create table f.t as select range as x from range(?)", [rows])
        conn.close()
    for i in range(ring):
        shutil.copyfile(folder / f"state-{i % 2}.duckdb", folder / f"ring-{i}.duckdb")
    path = folder / "warehouse.duckdb"
    os.link(folder / f"ring-{ring - 1}.duckdb", path)
    stop = folder / "stop"
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(folder), str(stop), str(burst), str(pause)])
    counts, errors, overlapped = [], [], 0
    started = time.monotonic()
    deadline = started + seconds
    try:
        while time.monotonic() < deadline and not (until_torn and errors):
            if (until_overlapped is not None and overlapped >= until_overlapped and len(set(counts)) == 2
                    and time.monotonic() >= started + min_seconds):
                break
            before = os.stat(path).st_ctime_ns
            try:
                conn = opener(path)
                try:
                    counts.append(conn.execute("select count(*) from t").fetchone()[0])
                finally:
                    conn.close()
            except duckdb.Error as exc:
                errors.append(str(exc).splitlines()[0])
            overlapped += os.stat(path).st_ctime_ns != before
    finally:
        stop.touch()
        swapper.wait(30)
    return counts, errors, overlapped


def test_a_plain_duckdb_connection_opened_while_the_file_is_renamed_can_be_torn(tmp_path: Path):
    """Why connect_published exists: DuckDB 2.0 reads a file's headers and its blocks through
    separate opens, so a rename between them pairs one file's headers with another's blocks."""
    counts, errors, _ = _open_while_swapped(tmp_path, lambda p: duckdb.connect(str(p), read_only=True),
                                            ring=4, burst=1000, pause=0, seconds=120, until_torn=True)
    assert errors, f"no plain connection was torn in {len(counts)} opens: the test no longer shows the race"


def test_a_connection_through_connect_published_is_never_torn(tmp_path: Path):
    # Bursts of renames (an odd number: the state changes from pause to pause), each shorter than
    # the ring (a file returns to the path only after a pause, as a publish's file returns only
    # after another refresh), with pauses an open fits in. For 8 s and until enough opens were
    # overlapped: on a busy machine an open that meets a burst waits it out, so few fit in 8 s.
    counts, errors, overlapped = _open_while_swapped(tmp_path, connect_published, ring=160, burst=151,
                                                     pause=0.1, seconds=120, until_overlapped=20, min_seconds=8)
    assert not errors
    assert set(counts) == {SMALL, LARGE}, counts
    assert overlapped >= 20, f"renames overlapped only {overlapped} of {len(counts)} opens"


def _publish_as_a_run_does(warehouse: Path) -> None:
    from orchestration.build.build_file import published_with_newest_stamp, stamp_for_publish

    stamp_for_publish(warehouse)
    publish(warehouse)
    published_with_newest_stamp(warehouse)


def _days(path: Path) -> list[int]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return [d for (d,) in conn.execute("select d from raw.days order by d").fetchall()]
    finally:
        conn.close()


def test_the_build_file_continues_the_published_file_only_while_it_is_the_one_it_published(tmp_path, monkeypatch):
    """The build file holds what the next refresh builds on. A file put in the published file's
    place since its publish (a compact copy built anew, a backup) or its removal is what the user
    wants: the build file starts again from it (empty when removed). A publish killed or refused
    (before or after its rename) leaves the build file in use, the first one a warehouse ever had
    too. On Spark, whose folder followed the old build file, the user chooses: one line."""
    from orchestration.build.build_file import prepare_build_file, stamp_for_publish
    from orchestration.errors import UserError

    warehouse = tmp_path / "warehouse.duckdb"
    build = build_path_for(warehouse)
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    stamp_for_publish(warehouse)  # the first publish, killed before its rename (or refused)
    prepare_build_file(warehouse)
    assert _days(build) == [1]
    _publish_as_a_run_does(warehouse)
    backup = tmp_path / "backup.duckdb"
    shutil.copyfile(warehouse, backup)
    _build(warehouse, "insert into raw.days values (2)")
    _publish_as_a_run_does(warehouse)
    _build(warehouse, "insert into raw.days values (3)")  # loaded, not yet published
    stamp_for_publish(warehouse)  # a publish killed before its rename
    stamp_for_publish(warehouse)  # and the next one too
    prepare_build_file(warehouse)
    assert _days(build) == [1, 2, 3]
    stamp_for_publish(warehouse)
    publish(warehouse)  # killed after its rename, before the build file knew
    prepare_build_file(warehouse)
    assert _days(build) == [1, 2, 3]

    shutil.copyfile(backup, warehouse)  # the backup put back
    with pytest.raises(UserError, match="was replaced or removed since this run loaded its build file"):
        stamp_for_publish(warehouse)  # a run's publish step after its load: the user's file stays
    monkeypatch.setenv("ANALYTICS_ENGINE", "spark")
    (tmp_path / "warehouse.duckdb.spark").mkdir()
    with pytest.raises(UserError, match="the Spark folder .* holds what the old build file held"):
        prepare_build_file(warehouse)
    monkeypatch.delenv("ANALYTICS_ENGINE")
    prepare_build_file(warehouse)
    assert _days(build) == [1]

    _publish_as_a_run_does(warehouse)
    warehouse.unlink()  # removed
    prepare_build_file(warehouse)
    assert _count(build, "select count(*) from duckdb_tables() where table_name = 'days'") == (0,)


def test_a_build_file_from_before_the_publish_stamps_stays_in_use(tmp_path):
    """Published by a version before the stamps: the first publish after the upgrade, refused or
    killed, leaves the build file in use (the published file has no stamp of it)."""
    from orchestration.build.build_file import prepare_build_file, stamp_for_publish

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    publish(warehouse)  # as versions before the stamps published
    _build(warehouse, "insert into raw.days values (2)")
    stamp_for_publish(warehouse)  # the upgrade's first publish, refused (a later load's users pending)
    prepare_build_file(warehouse)
    assert _days(build_path_for(warehouse)) == [1, 2]
    warehouse.unlink()
    prepare_build_file(warehouse)
    assert _days(build_path_for(warehouse)) == [1, 2]


def _other_warehouse(path: Path, day: int) -> Path:
    conn = duckdb.connect(str(path))
    try:
        conn.execute(f"create schema raw; create table raw.days as select {day} as d")
    finally:
        conn.close()
    return path


def test_a_backup_put_back_after_a_publish_the_build_file_did_not_see_confirmed_is_seen(tmp_path):
    """A publish killed after its rename leaves its stamp unconfirmed; the next check that finds it
    published confirms it, so the file published before it, put back, is a replacement."""
    from orchestration.build.build_file import prepare_build_file, stamp_for_publish

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    _publish_as_a_run_does(warehouse)
    backup = shutil.copyfile(warehouse, tmp_path / "backup.duckdb")
    _build(warehouse, "insert into raw.days values (2)")
    stamp_for_publish(warehouse)
    publish(warehouse)  # killed after its rename, before the build file knew
    stamp_for_publish(warehouse)  # the next publish, refused (a later load's users pending)
    shutil.copyfile(backup, warehouse)
    prepare_build_file(warehouse)
    assert _days(build_path_for(warehouse)) == [1]


def test_a_backup_put_back_over_a_build_file_started_from_nothing_is_started_from(tmp_path):
    """The published file removed, the build file starts again from nothing and a load goes into it,
    never published (a refresh killed in its dbt build): it has no confirmed stamp. A backup then
    put back is the user's file, as it is after a publish: the build file starts again from it.
    It went on instead, and its publish replaced the backup's days with the load's alone."""
    from orchestration.build.build_file import prepare_build_file

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    _publish_as_a_run_does(warehouse)
    backup = shutil.copy2(warehouse, tmp_path / "backup.duckdb")
    warehouse.unlink()
    prepare_build_file(warehouse)  # from nothing
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (2)")  # loaded, killed
    shutil.copy2(backup, warehouse)  # the backup put back, its times kept (cp -p)
    prepare_build_file(warehouse)
    assert _days(build_path_for(warehouse)) == [1]


def test_a_build_file_whose_stamps_cannot_be_read_is_not_started_again(tmp_path):
    """A build file that cannot be opened (damaged, or held read-write by another process) next to a
    published file: its stamps unread, it is not taken for one never published and deleted (with
    the loads it holds); its own error comes, one line."""
    from orchestration.build.build_file import prepare_build_file
    from orchestration.errors import UserError

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    _publish_as_a_run_does(warehouse)
    build = build_path_for(warehouse)
    with open(build, "r+b") as file:  # its headers damaged: DuckDB opens nothing
        file.write(b"\xa5" * 8192)
    damaged = build.read_bytes()
    with pytest.raises(UserError, match="build file"):
        prepare_build_file(warehouse)
    assert build.read_bytes() == damaged


def test_a_published_file_a_reader_holds_read_write_is_told_by_its_identity(tmp_path):
    """DuckDB cannot open a file another process holds read-write (a BI tool's default): the stamps
    cannot be read, so the file confirmed last is known by its inode, size and time."""
    from orchestration.build.build_file import prepare_build_file

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    _publish_as_a_run_does(warehouse)
    _build(warehouse, "insert into raw.days values (2)")
    hold = [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); time.sleep(60)"]
    for replaced in (False, True):
        if replaced:
            os.replace(_other_warehouse(tmp_path / "new.duckdb", 9), warehouse)
        holder = subprocess.Popen([*hold, str(warehouse)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(duckdb.Error):
                duckdb.connect(str(warehouse), read_only=True).close()
            prepare_build_file(warehouse)
        finally:
            holder.kill()
            holder.wait()
        assert _days(build_path_for(warehouse)) == ([9] if replaced else [1, 2])


def test_a_runs_dbt_step_does_not_drop_its_own_load_for_a_file_replaced_since(tmp_path):
    """The published file replaced between a run's load step and its dbt step (Dagster's steps take
    the lock one by one): starting the build file again there dropped the run's load, and the run
    succeeded. The dbt step now fails with one line; the next run starts again from the file."""
    from orchestration.build.build_file import prepare_build_file
    from orchestration.errors import UserError

    warehouse = tmp_path / "warehouse.duckdb"
    _build(warehouse, "create table raw.days (d int); insert into raw.days values (1)")
    _publish_as_a_run_does(warehouse)
    # loaded
    _build(warehouse, "insert into raw.days values (2); insert into raw.pending_users values ('2026-11-20', 'a', 'u2')")
    os.replace(_other_warehouse(tmp_path / "new.duckdb", 9), warehouse)
    with pytest.raises(UserError, match="during this run, after its load: its loaded days are not built"):
        prepare_build_file(warehouse, may_drop_loads=False)
    assert _days(build_path_for(warehouse)) == [1, 2]
    prepare_build_file(warehouse)  # the next run's load step
    assert _days(build_path_for(warehouse)) == [9]
