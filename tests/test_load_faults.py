"""The loader against hostile input (issue 22): bytes that are not UTF-8, a file whose name lies about
its compression, offsets and dates out of range, files the reader must not take, and folders it
cannot read.

Most tests call `load_export_day` on a plain in-memory DuckDB; one shared `refresh` proves end to end
that a bad byte does not stop the refresh and that data quality counts every line once. Expected
values are written out by hand from the small files each test writes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import duckdb
import pytest
from conftest import CLI, Workspace, environment_without_settings, event, slow_fixture, write_export

from orchestration.errors import LoadError
from orchestration.load.exports import (
    export_files,
    fingerprint,
    list_export_days,
    scan_day_folders,
    unread_export_names,
)
from orchestration.load.raw import _gzip_size, _read_gzip, load_export_day

DAY = dt.date(2026, 11, 23)
AT = "2026-11-23T10:00:00Z"


def line(eid: str, at: str = AT) -> str:
    return json.dumps(event(eid, "user_message", at, message_id=f"m-{eid}"))


def load(exports: Path, day: dt.date = DAY):
    conn = duckdb.connect()
    stats = load_export_day(conn, exports, day)
    return conn, stats


def loaded_ids(conn) -> list[tuple]:
    return conn.execute("select file_name, line_number, event_id from raw.events order by 1, 2").fetchall()


def rejects(conn) -> list[tuple]:
    return conn.execute(
        "select file_name, line_number, raw_line, reason from raw.rejected_lines order by 1, 2"
    ).fetchall()


def damage(conn) -> dict[str, str | None]:
    return dict(conn.execute("select file_name, damage from raw.export_files").fetchall())


def assert_every_line_counted_once(conn) -> None:
    per_file = conn.execute(
        """
        select f.file_name, f.lines_read,
            (select count(*) from raw.events e where e.file_name = f.file_name),
            (select count(*) from raw.rejected_lines r where r.file_name = f.file_name)
        from raw.export_files f
        """
    ).fetchall()
    for name, lines_read, events, rejected in per_file:
        assert lines_read == events + rejected, (name, lines_read, events, rejected)


# ------------------------------------------------- file names DuckDB takes as patterns -----------


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_file_name_duckdb_would_take_as_a_pattern_is_read_as_that_file_alone(tmp_path, gzipped):
    """`part-[0].jsonl` was read as `part-0.jsonl` (its own line lost, the other's loaded twice), and
    `*.jsonl` or `part-000?.jsonl` as several files, hidden ones too, which failed every refresh after."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    suffix = ".jsonl.gz" if gzipped else ".jsonl"
    files = {"part-[0]": "bracket", "part-0": "plain-0", "part-000?": "question", "part-0001": "plain-1",
             "*": "star"}
    for stem, eid in files.items():
        text = (line(eid) + "\n").encode()
        (folder / f"{stem}{suffix}").write_bytes(gzip.compress(text) if gzipped else text)
    (folder / ".part-0002.jsonl").write_text('{"partial\n')  # hidden: ignored (events.md)
    (folder / "_tmp.jsonl").write_text(line("ignored") + "\n")
    conn, stats = load(tmp_path / "exports")
    assert loaded_ids(conn) == sorted((f"{stem}{suffix}", 1, eid) for stem, eid in files.items())
    assert rejects(conn) == []
    assert stats.lines_read == len(files)
    assert_every_line_counted_once(conn)


# ------------------------------------------------- invalid UTF-8 and what the content is ---------


def bad_utf8_text(prefix: str) -> bytes:
    """Three lines; line 2 holds a byte that is never UTF-8 (0xff) inside a JSON string."""
    bad = line(f"{prefix}-2").replace(f"m-{prefix}-2", f"m-{prefix}-2\xff").encode("latin-1")
    return (line(f"{prefix}-1") + "\n").encode() + bad + b"\n" + (line(f"{prefix}-3") + "\n").encode()


def test_a_line_that_is_not_utf8_is_rejected_and_the_rest_of_the_file_loads(tmp_path):
    folder = tmp_path / f"dt={DAY}"
    folder.mkdir()
    (folder / "a-plain.jsonl").write_bytes(bad_utf8_text("a"))
    (folder / "b-gzip.jsonl.gz").write_bytes(gzip.compress(bad_utf8_text("b")))
    (folder / "c-gzip-named-plain.jsonl").write_bytes(gzip.compress(bad_utf8_text("c")))
    conn, stats = load(tmp_path)

    assert loaded_ids(conn) == [
        ("a-plain.jsonl", 1, "a-1"), ("a-plain.jsonl", 3, "a-3"),
        ("b-gzip.jsonl.gz", 1, "b-1"), ("b-gzip.jsonl.gz", 3, "b-3"),
        ("c-gzip-named-plain.jsonl", 1, "c-1"), ("c-gzip-named-plain.jsonl", 3, "c-3"),
    ]
    # the raw text keeps every valid character; the bad byte shows as the four characters \xff
    assert rejects(conn) == [
        (name, 2, line(f"{p}-2").replace(f"m-{p}-2", f"m-{p}-2\\xff"), "invalid_utf8")
        for name, p in [("a-plain.jsonl", "a"), ("b-gzip.jsonl.gz", "b"), ("c-gzip-named-plain.jsonl", "c")]
    ]
    notes = damage(conn)
    assert all("invalid_utf8" in notes[name] for name in notes), notes
    assert "gzip content under a plain .jsonl name" in notes["c-gzip-named-plain.jsonl"]
    assert stats.lines_read == 9 and stats.lines_rejected == 3 and stats.rejects_by_reason == {"invalid_utf8": 3}
    assert_every_line_counted_once(conn)


def test_the_content_not_the_name_decides_how_a_file_is_read(tmp_path):
    folder = tmp_path / f"dt={DAY}"
    folder.mkdir()
    (folder / "gzip-named-plain.jsonl").write_bytes(gzip.compress((line("g-1") + "\n" + line("g-2") + "\n").encode()))
    (folder / "plain-named-gzip.jsonl.gz").write_text(line("p-1") + "\n" + line("p-2") + "\n")
    (folder / "sound.jsonl.gz").write_bytes(gzip.compress((line("s-1") + "\n").encode()))
    conn, _ = load(tmp_path)

    assert loaded_ids(conn) == [
        ("gzip-named-plain.jsonl", 1, "g-1"), ("gzip-named-plain.jsonl", 2, "g-2"),
        ("plain-named-gzip.jsonl.gz", 1, "p-1"), ("plain-named-gzip.jsonl.gz", 2, "p-2"),
        ("sound.jsonl.gz", 1, "s-1"),
    ]
    assert rejects(conn) == []
    assert damage(conn) == {
        "gzip-named-plain.jsonl": "gzip content under a plain .jsonl name: read as gzip",
        "plain-named-gzip.jsonl.gz": "plain text under a .jsonl.gz name: read as plain text",
        "sound.jsonl.gz": None,
    }


# ------------------------------------------------- timestamps ---------------------------------


def reasons_of(tmp_path: Path, timestamps: list[str], day: dt.date = DAY) -> dict[str, str | None]:
    """occurred_at -> the reject reason (None: loaded), one event per timestamp."""
    write_export(tmp_path, day.isoformat(), "part.jsonl",
                 [line(f"t{i}", at) for i, at in enumerate(timestamps)])
    conn, _ = load(tmp_path, day)
    by_id = dict(conn.execute(
        "select event_id, null from raw.events union all "
        "select raw_line ->> '$.event_id', reason from raw.rejected_lines"
    ).fetchall())
    assert len(by_id) == len(timestamps)
    return {at: by_id[f"t{i}"] for i, at in enumerate(timestamps)}


def test_offsets_beyond_23_59_are_invalid_timestamps(tmp_path):
    assert reasons_of(tmp_path, [
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00-24:00",
        "2026-11-23T10:00:00+99:00",
        "2026-11-23T10:00:00+05:60",
        "2026-11-23T10:00:00+23:59",
        "2026-11-23T10:00:00-23:59",
        "2026-11-23T10:00:00+00:00",
    ]) == {
        "2026-11-23T10:00:00+24:00": "invalid_timestamp",
        "2026-11-23T10:00:00-24:00": "invalid_timestamp",
        "2026-11-23T10:00:00+99:00": "invalid_timestamp",
        "2026-11-23T10:00:00+05:60": "invalid_timestamp",
        "2026-11-23T10:00:00+23:59": None,
        "2026-11-23T10:00:00-23:59": None,
        "2026-11-23T10:00:00+00:00": None,
    }


def test_an_event_more_than_a_day_after_its_export_day_is_rejected(tmp_path):
    # Export day 2026-11-23 ends at 2026-11-24 00:00 UTC; one day after that is 2026-11-25 00:00 UTC,
    # which is still allowed ("more than one day after" is what is rejected).
    assert reasons_of(tmp_path, [
        "2026-11-25T00:00:00Z",  # exactly one day after the end: valid
        "2026-11-25T01:00:00+01:00",  # the same instant in another offset: valid
        "2026-11-24T23:59:59.999999-00:00",  # valid
        "2026-11-25T00:00:00.000001Z",  # one microsecond more: rejected
        "2026-11-24T23:00:01-01:00",  # 2026-11-25 00:00:01 UTC: rejected
        "9999-12-31T23:59:59Z",  # far ahead: rejected, no overflow
        "9999-12-31T23:59:59-23:59",  # beyond year 9999 in UTC: rejected, no overflow
    ]) == {
        "2026-11-25T00:00:00Z": None,
        "2026-11-25T01:00:00+01:00": None,
        "2026-11-24T23:59:59.999999-00:00": None,
        "2026-11-25T00:00:00.000001Z": "occurred_in_future",
        "2026-11-24T23:00:01-01:00": "occurred_in_future",
        "9999-12-31T23:59:59Z": "occurred_in_future",
        "9999-12-31T23:59:59-23:59": "occurred_in_future",
    }


def test_the_last_possible_export_day_loads_without_overflow(tmp_path):
    last = dt.date(9999, 12, 31)
    assert reasons_of(tmp_path, ["9999-12-31T10:00:00Z", "9999-12-31T23:59:59-23:59"], day=last) == {
        "9999-12-31T10:00:00Z": None,
        "9999-12-31T23:59:59-23:59": None,  # 10000-01-01 23:58:59 UTC, before 10000-01-02 00:00 UTC
    }


# ------------------------------------------------- files the reader does not take -------------


def test_dotfiles_underscore_files_and_links_are_not_export_files(tmp_path):
    exports = tmp_path / "exports"
    folder = exports / f"dt={DAY}"
    write_export(exports, DAY.isoformat(), "part-0000.jsonl", [line("real")])
    for name in [".part-0001.jsonl", "_tmp.jsonl", ".hidden.jsonl.gz"]:
        write_export(exports, DAY.isoformat(), name, [line(f"in-{name}")])
    (folder / "_SUCCESS").write_text("")
    outside = tmp_path / "outside.jsonl"  # stands for /etc/passwd: a file outside the exports root
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "passwd.jsonl").symlink_to(outside)
    (folder / "inside-link.jsonl").symlink_to(folder / "part-0000.jsonl")
    before = fingerprint(folder)

    assert [p.name for p in export_files(folder)] == ["part-0000.jsonl"]
    (folder / "parts.jsonl").mkdir()  # a file written as a folder of its parts
    (folder / "parts.jsonl" / "part-00000.jsonl").write_text(line("in-a-folder") + "\n")
    # named by the run, not read
    assert unread_export_names(folder) == (["inside-link.jsonl", "passwd.jsonl"], ["parts.jsonl"])
    conn, _ = load(exports)
    assert loaded_ids(conn) == [("part-0000.jsonl", 1, "real")]
    assert rejects(conn) == []
    assert list(damage(conn)) == ["part-0000.jsonl"]

    # a writer's temporary file appearing is not a re-delivery
    write_export(exports, DAY.isoformat(), ".part-0002.jsonl", [line("tmp")])
    (folder / "_SUCCESS").write_text("done")
    assert fingerprint(folder) == before


def test_only_real_dt_folders_are_export_days(tmp_path):
    exports = tmp_path / "exports"
    for name in ["dt=2026-11-23", ".dt=2026-11-24", "_dt=2026-11-25", "outside/dt=2026-11-26"]:
        (tmp_path / ("" if name.startswith("outside") else "exports") / name).mkdir(parents=True)
    (exports / "dt=2026-11-26").symlink_to(tmp_path / "outside" / "dt=2026-11-26")
    (exports / "dt=2026-11-27").symlink_to(exports / "dt=2026-11-23")

    assert list_export_days(exports) == [DAY]
    # asked for, a linked day says so (it said "not found: no folder" on the CLI, for a folder there)
    with pytest.raises(LoadError, match=r"^export day 2026-11-26 not read: .*dt=2026-11-26 is a symbolic link, "
                                        r"and links are not read \(copy the folder in"):
        load(exports, dt.date(2026, 11, 26))
    with pytest.raises(LoadError, match=r"^export day 2026-11-29 not found: no folder .*dt=2026-11-29$"):
        load(exports, dt.date(2026, 11, 29))
    # no exports root at all is a setting to fix, not a day that has not arrived
    with pytest.raises(LoadError, match=r"^export day 2026-11-23 not found: no exports folder .*nowhere "
                                        r"\(ANALYTICS_EXPORTS, or the exports folder given\)$"):
        load(tmp_path / "nowhere", DAY)
    # another case of `dt=` is not an export day, but is named as a folder nothing reads; so are
    # the links (status, refresh --all and the sensor name them: none is passed by unseen)
    (exports / "DT=2026-11-28").mkdir()
    assert scan_day_folders(exports) == ([DAY], ["DT=2026-11-28"], ["dt=2026-11-26", "dt=2026-11-27"])
    # a file with a day folder's name (a delivery gone wrong) is named too, and asked for, says what it is
    (exports / "dt=2026-11-30").write_text("a file\n")
    assert scan_day_folders(exports).misnamed == ["DT=2026-11-28", "dt=2026-11-30"]
    with pytest.raises(LoadError, match=r"^export day 2026-11-30 not read: .*dt=2026-11-30 is a file, not a folder$"):
        load(exports, dt.date(2026, 11, 30))


# ------------------------------------------------- folders that cannot be read ----------------


def run_bound_by_permissions(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs `args` so that file permissions apply to it: root reads any folder whatever its mode
    through its DAC capabilities, so they are dropped. The user stays the same, so the checkout and
    its venv stay readable wherever they are (a clone in a 0700 mktemp folder included)."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(prefix + args, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    "unreadable, args",
    [
        ("exports", ["--all"]),
        ("exports", ["--day", DAY.isoformat()]),
        (f"exports/dt={DAY}", ["--day", DAY.isoformat()]),
        (f"exports/dt={DAY}", ["--all"]),
    ],
)
def test_an_unreadable_folder_is_one_line_and_exit_2(unreadable, args, tmp_path):
    root = tmp_path
    try:
        write_export(root / "exports", DAY.isoformat(), "part-0000.jsonl", [line("e1")])
        (root / unreadable).chmod(0o000)
        env = environment_without_settings()
        env |= {"DAGSTER_HOME": str(root / "dagster_home"), "HOME": str(root)}
        proc = run_bound_by_permissions([CLI, "refresh", "--warehouse", str(root / "warehouse.duckdb"),
                                         "--exports", str(root / "exports"), *args], env)
    finally:
        (root / unreadable).chmod(0o755)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(root / unreadable) in lines[0] and "Permission denied" in lines[0], lines[0]


# ------------------------------------------------- one refresh, end to end --------------------


@pytest.fixture(scope="module")
@slow_fixture
def refreshed(module_workspace: Workspace) -> Workspace:
    ws = module_workspace
    folder = ws.exports / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "a-plain.jsonl").write_bytes(bad_utf8_text("a"))
    (folder / "b-gzip.jsonl.gz").write_bytes(gzip.compress(bad_utf8_text("b")))
    (folder / "c-gzip-named-plain.jsonl").write_bytes(gzip.compress(bad_utf8_text("c")))
    write_export(ws.exports, DAY.isoformat(), "d-future.jsonl", [line("d-1"), line("d-2", "9999-12-31T23:59:59Z")])
    write_export(ws.exports, DAY.isoformat(), ".e-temporary.jsonl", [line("e-1")])
    (folder / "f-link.jsonl").symlink_to(folder / "d-future.jsonl")
    (folder / "g-parts.jsonl").mkdir()  # a file written as a folder of its parts
    (folder / "g-parts.jsonl" / "part-00000.jsonl").write_text(line("g-1") + "\n")
    ws.refresh_stderr = ws.cli("refresh", "--all").stderr
    return ws


def test_bad_bytes_and_far_future_dates_do_not_stop_the_refresh(refreshed):
    (row,) = refreshed.query(
        "select lines_read, events_loaded, duplicates_dropped, lines_rejected, damaged_files, rejects_by_reason "
        "from marts.data_quality_daily"
    )
    lines_read, events_loaded, duplicates, rejected, damaged_files, by_reason = row
    # 3 files of 3 lines (line 2 not UTF-8) and a file of 2 lines (line 2 far ahead); the dotfile is no export
    assert (lines_read, events_loaded, duplicates, rejected, damaged_files) == (11, 7, 0, 4, 3)
    assert json.loads(by_reason) == {"invalid_utf8": 3, "occurred_in_future": 1}
    assert refreshed.query("select count(*) from raw.events where event_id = 'e-1'") == [(0,)]


def test_a_day_over_the_rejected_share_is_a_warning_line_of_the_refresh(refreshed):
    """Dagster's check rejected_share_under_threshold fails on the day (4 of 11 lines rejected, over
    the default 0.02); the CLI's refresh says so, once, and still succeeds (the fixture's check)."""
    warnings = [line for line in refreshed.refresh_stderr.splitlines() if "warning" in line]
    assert warnings == [f"assistant-analytics: warning: rejected lines above ANALYTICS_MAX_REJECTED_SHARE (0.02) on "
                        f"export day(s) {DAY} (36.36%); see raw.rejected_lines (Dagster's check "
                        "rejected_share_under_threshold failed)"]


def test_status_of_a_warehouse_of_one_export_day_says_so_in_words(refreshed):
    [line] = [line for line in refreshed.cli("status").stdout.splitlines() if line.startswith("rejected lines")]
    assert line == f"rejected lines 4 of 11 on the one export day ({DAY}: 4)", line  # not "the latest 1 export days"


def test_the_refresh_names_the_damaged_files_of_a_day(refreshed):
    """Their damage is kept in raw.export_files and counted in data_quality_daily; the refresh's
    output names them too, as it names a day's links: a line whose file was cut is in no count."""
    damage = dict(refreshed.query("select file_name, damage from raw.export_files where damage is not null"))
    assert len(damage) == 3
    [line] = [line for line in refreshed.refresh_stderr.splitlines() if "damaged" in line]
    named = ", ".join(f"{name}: {damage[name]}" for name in sorted(damage))
    assert line == (f"  export day {DAY}: 3 file(s) damaged or not what their name says, their readable lines loaded "
                    f"(raw.export_files.damage): {named}"), line


def test_a_link_named_like_an_export_file_is_not_read_and_the_refresh_says_so(refreshed):
    assert (f"export day {DAY}: not reading 1 symbolic link(s) named like an export file (links are not read; "
            "copy the file in): f-link.jsonl") in refreshed.refresh_stderr, refreshed.refresh_stderr
    assert refreshed.query("select count(*) from raw.export_files where file_name = 'f-link.jsonl'") == [(0,)]


def test_a_folder_named_like_an_export_file_is_not_read_and_the_refresh_says_so(refreshed):
    assert (f"export day {DAY}: not reading 1 folder(s) or other entries named like an export file (only files "
            "are read; put their lines in files of the day's folder): g-parts.jsonl") in refreshed.refresh_stderr, \
        refreshed.refresh_stderr
    assert refreshed.query("select count(*) from raw.events where event_id = 'g-1'") == [(0,)]


def test_healthy_files_are_read_by_duckdb_alone(tmp_path, monkeypatch):
    """A healthy gzip and plain file never take the careful path (Python gunzip and decode)."""
    import orchestration.load.raw as raw

    def careful(*args, **kwargs):
        raise AssertionError(f"careful path taken for {args[1].name}")

    monkeypatch.setattr(raw, "_read_careful", careful)
    exports = tmp_path / "exports"
    write_export(exports, DAY.isoformat(), "part-0000.jsonl.gz", [line("gz-1"), "", line("gz-2")])
    write_export(exports, DAY.isoformat(), "part-0001.jsonl", [line("plain-1"), "not json", line("plain-2")])
    conn, stats = load(exports)
    assert loaded_ids(conn) == [
        ("part-0000.jsonl.gz", 1, "gz-1"), ("part-0000.jsonl.gz", 3, "gz-2"),
        ("part-0001.jsonl", 1, "plain-1"), ("part-0001.jsonl", 3, "plain-2"),
    ]
    assert rejects(conn) == [("part-0001.jsonl", 2, "not json", "invalid_json")]
    assert (stats.lines_read, stats.events_valid, stats.lines_rejected, stats.damaged_files) == (5, 4, 1, [])


# Damaged gzip: every byte before the damage is kept ------------------------------------------------

def _event_lines(prefix: str, count: int) -> bytes:
    # a hash in each line, so that deflate cannot shrink the text to almost nothing
    return b"".join(json.dumps(event(f"{prefix}-{i}", "user_message", "2026-11-24T09:00:00Z", message_id=f"m-{i}",
                                     input="text", text=hashlib.sha256(f"{prefix}{i}".encode()).hexdigest())).encode()
                    + b"\n" for i in range(count))


def test_the_lines_of_a_gzip_member_whose_checksum_fails_are_rejected(tmp_path: Path):
    """Its data decompresses, but the CRC says a byte of it is not what was written: its lines are
    not loaded as they read (test_load.py has one whose event_id changed) but rejected as
    damaged_gzip_member, with their text (they were left out, counted in a note only). The members
    before and after it, whose checks pass, are loaded (those after it were lost)."""
    good, bad, after = _event_lines("good", 40), _event_lines("bad", 300), _event_lines("after", 7)
    damaged = bytearray(gzip.compress(bad, mtime=0))
    damaged[-8] ^= 0xFF  # the CRC32 of the trailer
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    path = folder / "crc.jsonl.gz"
    path.write_bytes(gzip.compress(good, mtime=0) + bytes(damaged) + gzip.compress(after, mtime=0))
    kept, damage, damaged_lines = _read_gzip(path)
    assert kept == good + bad + after and damaged_lines == list(range(41, 341))
    assert damage == ("corrupt gzip data: Error -3 while decompressing data: incorrect data check; 300 "
                      "line(s) of a gzip member whose check failed: rejected as damaged_gzip_member")
    assert _gzip_size(path) is None  # not intact: the fast path does not take it
    conn, stats = load(tmp_path / "exports")
    try:
        assert [event_id.split("-")[0] for _, _, event_id in loaded_ids(conn)] == ["good"] * 40 + ["after"] * 7
        assert [r[1:] for r in rejects(conn)] == [(n, line.decode(), "damaged_gzip_member")
                                                  for n, line in enumerate(bad.splitlines(), start=41)]
    finally:
        conn.close()
    assert (stats.lines_read, stats.events_valid, stats.lines_rejected) == (347, 47, 300)


def test_a_damaged_members_lines_are_counted_in_its_note_only_not_as_invalid_utf8(tmp_path: Path):
    """A line that is not UTF-8 inside a gzip member whose check failed is rejected as
    damaged_gzip_member (judged first), so the file's note counts it there and not as invalid_utf8;
    a bad line in an intact member of the same file is invalid_utf8. Each note's count is the
    number of rows rejected for its reason, in both loaders' careful paths."""
    not_utf8 = b'{"event_id": "x-\xff"}\n'
    damaged = bytearray(gzip.compress(_event_lines("bad", 3) + not_utf8 * 2, mtime=0))
    damaged[-8] ^= 0xFF  # the CRC32 of the trailer
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    path = folder / "mixed.jsonl.gz"
    path.write_bytes(gzip.compress(_event_lines("good", 2) + not_utf8, mtime=0) + bytes(damaged))
    notes = ("corrupt gzip data: Error -3 while decompressing data: incorrect data check; "
             "5 line(s) of a gzip member whose check failed: rejected as damaged_gzip_member; "
             "1 line(s) not valid UTF-8: rejected as invalid_utf8")
    conn, _ = load(tmp_path / "exports")
    try:
        assert damage(conn) == {"mixed.jsonl.gz": notes}
        by_reason = dict(conn.execute("select reason, count(*) from raw.rejected_lines group by reason").fetchall())
    finally:
        conn.close()
    assert by_reason == {"invalid_utf8": 1, "damaged_gzip_member": 5}
    spark_load = pytest.importorskip("orchestration.load.spark_load", reason="pyspark is not installed")
    assert spark_load._careful_lines(path, path.name, True)[1] == notes  # the Spark loader's careful path


def test_the_gzip_members_after_a_break_in_one_are_kept(tmp_path: Path):
    """A member whose deflate data breaks (a stretch of bytes overwritten) keeps its lines before the
    break, and the members after it are read, each line whole: the cut line ends at the break."""
    before, lost, after = _event_lines("before", 2000), _event_lines("lost", 50), _event_lines("after", 9)
    deflate = zlib.compressobj(wbits=31)
    head = deflate.compress(before) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(lost) + deflate.flush()
    path = tmp_path / "part-0000.jsonl.gz"
    path.write_bytes(head + b"\xff" * 8 + tail[8:] + gzip.compress(after, mtime=0))
    kept, damage, _ = _read_gzip(path)
    assert kept.startswith(before) and kept.endswith(after)
    assert kept.count(b"\n") == before.count(b"\n") + after.count(b"\n") + (len(kept) > len(before + after))
    assert damage.startswith("corrupt gzip data") and damage.endswith("kept the lines before it")
    assert damage.count("corrupt gzip data") == 1  # no note for bytes that only look like a header
    assert _read_gzip(_written(tmp_path / "end.jsonl.gz", head + b"\xff" * 8)) == (before, damage, [])


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("padding", [512, 3 * (1 << 20) + 1])  # one read of the check, and across reads
def test_zero_bytes_after_a_gzip_member_are_padding_not_damage(tmp_path: Path, padding: int):
    """A file padded with zero bytes to a block size, after its last member or between two: every
    line loads, and the file is not damaged, as `gzip -t` and Python's gzip module read it. DuckDB's
    reader refuses such a file (the careful path reads it). Other bytes after the padding must start
    a member: damage."""
    first, second = _event_lines("first", 50), _event_lines("second", 50)
    day = dt.date(2026, 11, 24)  # the lines' day
    folder = tmp_path / "exports" / f"dt={day}"
    folder.mkdir(parents=True)
    padded = folder / "part-0000.jsonl.gz"
    padded.write_bytes(gzip.compress(first, mtime=0) + b"\0" * padding + gzip.compress(second, mtime=0)
                       + b"\0" * padding)
    assert gzip.decompress(padded.read_bytes()) == first + second
    assert _read_gzip(padded) == (first + second, None, [])
    assert _gzip_size(padded) is None  # DuckDB's and Spark's readers refuse it: the careful path reads it
    conn, stats = load(tmp_path / "exports", day)
    try:
        assert conn.execute("select count(*), count(damage) from raw.export_files").fetchone() == (1, 0)
    finally:
        conn.close()
    assert (stats.lines_read, stats.events_valid, stats.damaged_files) == (100, 100, [])

    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(gzip.compress(first, mtime=0) + b"\0" * padding + b"not gzip")
    kept, damage, _ = _read_gzip(garbage)
    assert kept == first
    assert damage == ("corrupt gzip data: Error -3 while decompressing data: incorrect header check; "
                      "kept the lines before it")
    assert _gzip_size(garbage) is None


def test_a_gzip_damaged_mid_stream_keeps_every_line_before_the_damage(tmp_path: Path):
    before, after = _event_lines("before", 8000), _event_lines("after", 300)
    deflate = zlib.compressobj(wbits=31)
    head = deflate.compress(before) + deflate.flush(zlib.Z_FULL_FLUSH)  # a block boundary: all of `before` decodable
    tail = deflate.compress(after) + deflate.flush()
    assert len(head) > 3 * (1 << 16)  # the damage is pieces past the start, and inside a piece
    path = tmp_path / "part-0000.jsonl.gz"
    path.write_bytes(head + b"\xff" * 8 + tail[8:])
    kept, damage, _ = _read_gzip(path)
    assert kept.startswith(before) and (before + after).startswith(kept)
    assert damage.startswith("corrupt gzip data") and damage.endswith("kept the lines before it")
    # through the loader: the day's lines before the damage are loaded, the file marked damaged
    day = dt.date(2026, 11, 24)
    (tmp_path / "exports" / f"dt={day}").mkdir(parents=True)
    shutil.move(path, tmp_path / "exports" / f"dt={day}" / path.name)
    conn = duckdb.connect()
    try:
        load_export_day(conn, tmp_path / "exports", day)
        loaded = conn.execute("select count(*) from raw.events where event_id like 'before-%'").fetchone()[0]
        [(lines_read, file_damage)] = conn.execute("select lines_read, damage from raw.export_files").fetchall()
    finally:
        conn.close()
    assert loaded == 8000 and lines_read >= 8000 and file_damage == damage


# A day's files as delivered: what the load records ---------------------------------------------------

def test_a_file_that_changes_while_the_day_loads_leaves_the_day_to_load_again(tmp_path: Path, monkeypatch):
    """The platform re-delivers (here: adds a file) while the load reads the day. The day's recorded
    fingerprint is that of the files before they were read, so it is not the folder's now: the
    sensor and `status` see the day as re-delivered, and the next refresh loads the new file."""
    import orchestration.load.raw as raw

    write_export(tmp_path / "exports", DAY.isoformat(), "part-0000.jsonl", [json.loads(line("a-1"))])
    folder = tmp_path / "exports" / f"dt={DAY}"
    read_files = raw._classify_lines

    def read_then_redelivered(conn, folder_, tmpdir, day, *more):
        result = read_files(conn, folder_, tmpdir, day, *more)
        (folder / "part-0001.jsonl").write_text(line("a-2") + "\n")  # arrives after the reading
        return result

    monkeypatch.setattr(raw, "_classify_lines", read_then_redelivered)
    conn, stats = load(tmp_path / "exports")
    try:
        [(recorded,)] = conn.execute("select fingerprint from raw.export_days").fetchall()
        assert loaded_ids(conn) == [("part-0000.jsonl", 1, "a-1")]
        assert recorded != fingerprint(folder)  # re-delivered, to load again
        assert stats.changed_while_read  # and the run says so
        monkeypatch.setattr(raw, "_classify_lines", read_files)
        load_export_day(conn, tmp_path / "exports", DAY)
        assert loaded_ids(conn) == [("part-0000.jsonl", 1, "a-1"), ("part-0001.jsonl", 1, "a-2")]
        assert conn.execute("select fingerprint from raw.export_days").fetchall() == [(fingerprint(folder),)]
    finally:
        conn.close()


@pytest.mark.parametrize("gone", ["a file, before its read", "a file, after its read", "the folder"])
def test_a_day_whose_files_go_while_it_loads_is_left_as_it_was_and_loads_later(tmp_path: Path, monkeypatch, gone):
    """A re-delivery under way (the folder emptied, then written again) removes a file the load had
    listed: that load failed the refresh with "cannot read the export file". Now the day is left as
    it was (its rows, and its recorded fingerprint: loading the rest would publish part of a day),
    the run goes on and says why, and the day loads once delivered; put back as it was (`tar x`,
    `cp -p`: the same names, sizes and times) it holds what it held, and nothing is pending."""
    import orchestration.load.raw as raw

    exports = tmp_path / "exports"
    write_export(exports, DAY.isoformat(), "part-0000.jsonl", [json.loads(line("a-1"))])
    write_export(exports, DAY.isoformat(), "part-0001.jsonl", [json.loads(line("a-2"))])
    folder = exports / f"dt={DAY}"
    conn, _ = load(exports)
    try:
        [(first_load,)] = conn.execute("select fingerprint from raw.export_days").fetchall()
        pending = conn.execute("select * from raw.pending_users order by all").fetchall()
        saved = tmp_path / "saved"
        shutil.copytree(folder, saved)  # copy2: names, bytes and times, as `tar x` puts them back
        read_file = raw._read_file

        def read_while_files_go(conn_, path, name, tmpdir, day):
            if gone == "a file, before its read" and name == "part-0000.jsonl":
                (folder / "part-0001.jsonl").unlink()
            if gone == "the folder" and name == "part-0001.jsonl":
                shutil.rmtree(folder)
            damage = read_file(conn_, path, name, tmpdir, day)
            if gone == "a file, after its read" and name == "part-0001.jsonl":
                (folder / "part-0001.jsonl").unlink()
            return damage

        monkeypatch.setattr(raw, "_read_file", read_while_files_go)
        os.utime(folder / "part-0000.jsonl")  # re-delivered: loaded again
        stats = load_export_day(conn, exports, DAY)
        assert stats.not_loaded_because == ("its folder was removed while the load read it" if gone == "the folder"
                                            else "its file part-0001.jsonl was removed while the load read the day")
        assert (stats.files, stats.lines_read) == (0, 0)
        assert loaded_ids(conn) == [("part-0000.jsonl", 1, "a-1"), ("part-0001.jsonl", 1, "a-2")]
        assert conn.execute("select fingerprint from raw.export_days").fetchall() == [(first_load,)]
        assert conn.execute("select * from raw.pending_users order by all").fetchall() == pending  # as it was

        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(saved, folder)  # put back as it was
        assert fingerprint(folder) == first_load  # nothing to load again: the rows are those files'
        monkeypatch.setattr(raw, "_read_file", read_file)
        write_export(exports, DAY.isoformat(), "part-0001.jsonl", [json.loads(line("a-3"))])  # delivered anew
        stats = load_export_day(conn, exports, DAY)
        assert stats.not_loaded_because is None and not stats.changed_while_read
        assert loaded_ids(conn) == [("part-0000.jsonl", 1, "a-1"), ("part-0001.jsonl", 1, "a-3")]
    finally:
        conn.close()


def test_a_file_that_cannot_be_read_is_not_taken_for_one_removed(tmp_path: Path, monkeypatch):
    """Only a file that no longer exists is a delivery under way: any other error reading it (here
    a permission refused, where a folder without search permission makes the file's lstat fail
    too, as if it were gone) stops the load with its one line, as before."""
    import orchestration.load.raw as raw

    write_export(tmp_path / "exports", DAY.isoformat(), "part-0000.jsonl", [json.loads(line("a-1"))])

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(raw, "_holds_gzip", refused)
    monkeypatch.setattr(raw.os.path, "lexists", lambda path: False)
    with pytest.raises(LoadError, match="^cannot read the export file .*part-0000.jsonl: Permission denied$"):
        load(tmp_path / "exports")


class _CommitFails:
    """A connection whose commit of the day's load fails as a full disk makes it fail: DuckDB ends
    the transaction (its set-up's commits, before, go through)."""

    def __init__(self, conn):
        self._conn = conn
        self._day_written = False

    def execute(self, sql, *args):
        self._day_written |= sql.startswith("insert into raw.export_days")
        if sql == "commit" and self._day_written:
            self._conn.execute("rollback")
            raise duckdb.IOException('Could not write file "wh.build.duckdb.wal": No space left on device')
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_failed_commit_is_the_error_told_not_the_rollback_after_it(tmp_path: Path):
    write_export(tmp_path / "exports", DAY.isoformat(), "part-0000.jsonl", [json.loads(line("a-1"))])
    conn = duckdb.connect()
    try:
        with pytest.raises(duckdb.IOException, match="No space left on device"):
            load_export_day(_CommitFails(conn), tmp_path / "exports", DAY)
        assert conn.execute("select count(*) from raw.export_days").fetchone() == (0,)
    finally:
        conn.close()


def test_a_file_whose_name_is_not_utf8_loads_under_its_name_with_the_bytes_escaped(tmp_path: Path):
    """A name is bytes; one that is not UTF-8 (no text column holds it, and DuckDB takes no such path)
    loads like any other file, named with `\\xNN` for its bad bytes, as a line's bad bytes are kept.
    The day's fingerprint and the scan of the exports root take such names too."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "ok.jsonl").write_text(line("ok-1") + "\n")
    plain = folder / os.fsdecode(b"part\xff\xfe.jsonl")
    plain.write_text(line("odd-1") + "\n" + line("odd-2") + "\n")
    # a name one can write that reads as the escaped one: the name that is not UTF-8 gets a suffix
    (folder / "part\\xff\\xfe.jsonl").write_text(line("literal-1") + "\n")
    suffixed = "part\\xff\\xfe.jsonl~" + hashlib.sha256(b"part\xff\xfe.jsonl").hexdigest()[:8]
    gzipped = folder / os.fsdecode(b"gz-\xe9t\xe9.jsonl.gz")  # Latin-1 bytes, and a line that is not UTF-8
    gzipped.write_bytes(gzip.compress((line("gz-1") + "\n").encode() + b'{"event_id": "\xff"}\n'))
    (tmp_path / "exports" / os.fsdecode(b"dt=2026-11-\xff")).mkdir()
    conn, stats = load(tmp_path / "exports")
    try:
        assert loaded_ids(conn) == [("gz-\\xe9t\\xe9.jsonl.gz", 1, "gz-1"), ("ok.jsonl", 1, "ok-1"),
                                    ("part\\xff\\xfe.jsonl", 1, "literal-1"),
                                    (suffixed, 1, "odd-1"), (suffixed, 2, "odd-2")]
        assert conn.execute("select file_name, line_number, reason from raw.rejected_lines").fetchall() == [
            ("gz-\\xe9t\\xe9.jsonl.gz", 2, "invalid_utf8")]
        assert sorted(r[0] for r in conn.execute("select file_name from raw.export_files").fetchall()) == [
            "gz-\\xe9t\\xe9.jsonl.gz", "ok.jsonl", "part\\xff\\xfe.jsonl", suffixed]
        [(recorded,)] = conn.execute("select fingerprint from raw.export_days").fetchall()
    finally:
        conn.close()
    assert (stats.lines_read, stats.events_valid) == (6, 5)
    assert recorded == fingerprint(folder)
    assert scan_day_folders(tmp_path / "exports") == ([DAY], ["dt=2026-11-\\xff"], [])


def test_the_careful_path_holds_no_python_copy_of_a_plain_utf8_file(tmp_path: Path, monkeypatch):
    """A plain file the careful path reads (CRLF line ends: DuckDB's line reader refuses a CR) is
    checked as UTF-8 a piece at a time and then read by DuckDB from where it is: Python never reads
    it whole. Python's copy of a large file beside DuckDB's read of it took the load past the memory
    target (a 1.2 GB CRLF export day: 4.8 GB)."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "part-0000.jsonl").write_bytes(b"".join(line(f"crlf-{n}").encode() + b"\r\n" for n in range(3)))
    read_bytes = Path.read_bytes

    def not_the_export_file(self):
        assert "exports" not in self.parts, f"read whole into Python: {self}"
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", not_the_export_file)
    conn, stats = load(tmp_path / "exports")
    try:
        assert loaded_ids(conn) == [("part-0000.jsonl", n + 1, f"crlf-{n}") for n in range(3)]
    finally:
        conn.close()


@pytest.mark.parametrize("delivery", ["replaced", "removed", "removed before the careful path"])
def test_a_plain_file_the_careful_path_reads_is_read_once(tmp_path: Path, monkeypatch, delivery):
    """The careful path reads a plain file once. It read it twice (a UTF-8 check, then the copy
    DuckDB reads), and a re-delivery between the two reads stopped the load: a file replaced by
    another (atomically, as rsync writes one) gave the new file's bytes to a copy judged UTF-8 from
    the old one (DuckDB's error), and a file removed was blamed on the loader's temporary folder.
    Now the copy is of the file as it was when its read began, and the day is handled as any day
    re-delivered while it loads: loaded as read and left to load again, or left as it was."""
    import orchestration.load.raw as raw

    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    export = folder / "part-0000.jsonl"
    export.write_bytes(line("crlf-1").encode() + b"\r\n")  # CRLF: the careful path reads it
    read_pieces = raw._file_pieces

    def delivered_once_read(path):
        if delivery == "removed before the careful path" and path == export:
            export.unlink()  # after the fast path's read: the careful path's own read finds it gone
        yield from read_pieces(path)
        if path == export and export.read_bytes().startswith(line("crlf-1").encode()):
            if delivery == "removed":
                export.unlink()
            else:
                (folder / ".new").write_bytes(line("new-1").encode() + b"\xff\r\n")  # not UTF-8
                os.replace(folder / ".new", export)

    monkeypatch.setattr(raw, "_file_pieces", delivered_once_read)
    conn, stats = load(tmp_path / "exports")
    try:
        if delivery.startswith("removed"):
            assert stats.not_loaded_because == "its file part-0000.jsonl was removed while the load read the day"
            assert loaded_ids(conn) == []
        else:
            assert stats.changed_while_read
            assert loaded_ids(conn) == [("part-0000.jsonl", 1, "crlf-1")]
            assert rejects(conn) == []
    finally:
        conn.close()

@pytest.mark.parametrize("gzipped", [False, True])
def test_crs_that_end_lines_are_trimmed_as_the_careful_path_always_did(tmp_path: Path, gzipped: bool):
    """The careful path's copy leaves out the CRs that end lines, so that DuckDB's line reader takes
    it: every line keeps its number, a reject keeps its text without them, LF and CRLF lines may
    mix, and a last line without "\\n" loses its CRs too."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    text = (line("e-1").encode() + b"\r\r\n" + b"not json\r\n" + b"\r\n" + line("e-4").encode() + b"\n"
            + b"garbage\r")
    name = "part-0000.jsonl" + ".gz" * gzipped
    (folder / name).write_bytes(gzip.compress(text) if gzipped else text)
    conn, stats = load(tmp_path / "exports")
    try:
        assert loaded_ids(conn) == [(name, 1, "e-1"), (name, 4, "e-4")]
        assert [r[1:] for r in rejects(conn)] == [(2, "not json", "invalid_json"), (5, "garbage", "invalid_json")]
    finally:
        conn.close()
    assert (stats.lines_read, stats.damaged_files) == (4, [])


def test_the_copys_line_end_crs_go_wherever_the_pieces_split_the_text():
    """The copy leaves out exactly what the careful path's SQL trims from each line (its CRs at the
    end), however the text is cut into pieces: a CR at a piece's end may end a line or sit inside one."""
    import random

    from orchestration.load.raw import _write_without_line_end_crs

    rng = random.Random(1)
    for _ in range(2000):
        text = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(0, 40)))
        trimmed = b"\n".join(line.rstrip(b"\r") for line in text.split(b"\n"))
        for size in (1, 2, 3, 7, 64):
            copy = io.BytesIO()
            _write_without_line_end_crs((text[at:at + size] for at in range(0, len(text), size)), copy)
            assert copy.getvalue() == trimmed, (text, size)


def test_a_full_temporary_folder_is_named_as_such_not_blamed_on_the_export_file(tmp_path: Path, monkeypatch):
    """A gzip file is read through a text copy in the temporary folder (TMPDIR); when that cannot be
    written (a full disk), the error names the temporary folder, not the export file."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "part-0000.jsonl.gz").write_bytes(gzip.compress((line("a-1") + "\n").encode() + b"\xff\n"))
    import orchestration.load.raw as raw

    def disk_full(file, mode="r", *args, **kwargs):
        if str(file).endswith(".txt") and "w" in mode:
            raise OSError(28, "No space left on device")
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(raw, "open", disk_full, raising=False)  # the module's name `open`, not the builtin
    with pytest.raises(LoadError, match=r"^cannot write the loader's temporary copy of part-0000\.jsonl\.gz in "
                                        r".* \(TMPDIR\): No space left on device$"):
        load(tmp_path / "exports")


def test_a_copy_that_fails_midway_closes_the_export_file_at_once(tmp_path: Path, monkeypatch):
    """A plain file's copy that fails after it began (the disk fills up) leaves the export file
    closed when the error is raised, not open for as long as the error is kept (a traceback held by
    a caller, or the Dagster run that reports it)."""
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    export = folder / "part-0000.jsonl"
    export.write_bytes(line("crlf-1").encode() + b"\r\n")  # CRLF: the careful path copies it
    import orchestration.load.raw as raw

    class FillsUp:
        def __init__(self, file):
            self._file = file

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._file.close()

    def disk_full(file, mode="r", *args, **kwargs):
        opened = open(file, mode, *args, **kwargs)
        return FillsUp(opened) if str(file).endswith(".txt") and "w" in mode else opened

    monkeypatch.setattr(raw, "open", disk_full, raising=False)  # the module's name `open`, not the builtin
    with pytest.raises(LoadError, match=r"\(TMPDIR\): No space left on device$") as caught:
        load(tmp_path / "exports")
    held = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.islink(f"/proc/self/fd/{fd}")}
    assert str(export) not in held, caught.value

def test_a_load_removes_the_temporary_folders_of_killed_loads_only(tmp_path: Path, monkeypatch):
    """A load killed outright leaves its temporary folder (maybe a day's inflated text) behind; the
    next load removes the folders of loads whose process is gone, not those of running ones."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    gone = temp / f"aa-load-{_pid_of_ended_process()}-k1ll3d"  # a killed load's
    gone.mkdir()
    (gone / "part-0000.jsonl.gz.txt").write_text("inflated text")
    running = temp / f"aa-load-{os.getppid()}-running"
    running.mkdir()
    unrelated = temp / "aa-load-oldname"  # an earlier version's name, of a load that may still run
    unrelated.mkdir()
    old = temp / "aa-load-l0ng0ne"  # an earlier version's, a day old: no load lasts that long
    old.mkdir()
    os.utime(old, (time.time() - 90_000, time.time() - 90_000))
    folder = tmp_path / "exports" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "part-0000.jsonl.gz").write_bytes(gzip.compress((line("a-1") + "\n").encode() + b"\xff\n"))
    conn, stats = load(tmp_path / "exports")
    conn.close()
    assert stats.events_valid == 1
    assert sorted(p.name for p in temp.iterdir()) == sorted([running.name, unrelated.name])


def _pid_of_ended_process() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_file_too_big_for_the_memory_limit_is_named_with_what_would_let_it_load(tmp_path):
    """A gzip file that inflates to far more than DuckDB may hold (millions of blank lines: a gzip
    bomb, or a day too big for the setting) and no disk to spill to: the load stops with a line that
    names the file and the limit, not DuckDB's bare "Out of Memory Error" after the careful path
    (which needs more memory still) tried it too."""
    day = dt.date(2026, 11, 26)
    folder = tmp_path / f"dt={day.isoformat()}"
    folder.mkdir()
    line = json.dumps(event("e-1", "user_message", "2026-11-26T09:00:00Z"))
    (folder / "bomb.jsonl.gz").write_bytes(gzip.compress(("\n" * 3_000_000 + line + "\n").encode(), 1))
    conn = duckdb.connect()
    conn.execute("set memory_limit = '8MB'")
    conn.execute("set temp_directory = ''")  # no disk to spill to
    try:
        with pytest.raises(LoadError, match=r"^cannot load the export file bomb\.jsonl\.gz of 2026-11-26: Out of "
                                            r"Memory Error: .*: it needs more than ANALYTICS_DUCKDB_MEMORY_LIMIT"):
            load_export_day(conn, tmp_path, day)
    finally:
        conn.close()
