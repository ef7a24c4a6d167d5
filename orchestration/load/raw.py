"""Loads one export day (`dt=YYYY-MM-DD`) into the raw schema, replacing what that day brought before.

Every non-blank line ends up as a valid event in `raw.events` or a row in `raw.rejected_lines`.
Duplicates are kept in `raw.events` and resolved by dbt (first copy by export day, file, line),
so that re-delivering any day moves first copies correctly. The users whose results a load can change
are written to `raw.pending_users`; dbt recomputes exactly those and the refresh clears the table.
The loader reads nothing dbt builds: the owners of answers that feedback can rate are kept in its own
`raw.answer_owners`, and every User-Agent string of raw.events, parsed by uap-core's rules, in
`raw.user_agents` (user_agents.py).
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import LoadError, first_line
from ..processes import process_gone
from .exports import changed_since, check_export_day, export_files, fingerprint, is_utf8_path, shown_names, unreadable
from .user_agents import parsed, parser_version
from .validation import BLANK_LINE, DUCKDB, extracted_lines_sql, reason_case_sql

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    export_date date not null,
    file_name varchar not null,
    line_number bigint not null,
    event_id varchar not null,
    event_type varchar not null,
    occurred_at timestamptz not null,
    assistant_id varchar not null,
    channel varchar not null,
    user_id varchar not null,
    conversation_id varchar not null,
    user_agent varchar,
    properties json not null
);
create table if not exists raw.rejected_lines (
    export_date date not null,
    file_name varchar not null,
    line_number bigint not null,
    raw_line varchar not null,
    reason varchar not null
);
create table if not exists raw.export_files (
    export_date date not null,
    file_name varchar not null,
    size_bytes bigint not null,
    lines_read bigint not null,
    damage varchar
);
create table if not exists raw.export_days (
    export_date date not null,
    fingerprint varchar not null,
    files integer not null,
    lines_read bigint not null,
    loaded_at timestamptz not null
);
create table if not exists raw.pending_users (
    export_date date not null,
    assistant_id varchar not null,
    user_id varchar not null
);
"""
# One row per distinct user_agent of raw.events (user_agents.py), kept to exactly those strings.
USER_AGENTS_DDL = """
create table raw.user_agents (
    user_agent varchar not null,
    browser varchar not null,
    os_family varchar not null,
    device_family varchar not null,
    parsed_by varchar not null
)
"""

# After a day is loaded again: the strings of its old copy that no event holds any more (only those
# are looked for in raw.events, and only on a day loaded before), so that raw.user_agents stays
# exactly the strings of raw.events, as a full reload leaves it.
DROP_UNUSED_AGENTS_SQL = """
delete from raw.user_agents
where user_agent in (select user_agent from replaced_day_agents)
    and user_agent not in (
        select user_agent from raw.events
        where user_agent in (select user_agent from replaced_day_agents)
    )
"""

# Who wrote each answer a feedback can rate: one row per valid bot_message line (assistant,
# message_id, user) of each export day, every copy included, replaced with the day like raw.events.
ANSWER_OWNERS_DDL = """
create table raw.answer_owners (
    export_date date not null,
    assistant_id varchar not null,
    message_id varchar not null,
    user_id varchar not null
)
"""
ANSWER_OWNERS_OF_EVENTS_SQL = """
insert into raw.answer_owners
select export_date, assistant_id, properties ->> '$.message_id', user_id
from raw.events
where event_type = 'bot_message'
"""


class ExportFileGone(Exception):
    """An export file of the day's listing was gone when the load came to read it, or once it had
    read it: the platform is delivering the day (again) while the load reads it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def gone_or_unreadable(exc: OSError, path: Path, name: str) -> ExportFileGone | LoadError:
    """What an error reading a file of the day's listing (shown as `name`) means: the file removed
    since the listing (it no longer exists: a delivery under way), or a file that cannot be read
    (a permission, a failing disk: its one line). Both loaders judge their errors by it."""
    if isinstance(exc, FileNotFoundError) and not os.path.lexists(path):
        return ExportFileGone(name)
    return unreadable("the export file", path, exc)


def removed_while_read(folder: Path, name: str) -> str:
    """Why a day whose files went while the load read them is not loaded (LoadStats.not_loaded_because)."""
    if not folder.is_dir():
        return "its folder was removed while the load read it"
    return f"its file {name} was removed while the load read the day"


@dataclass
class LoadStats:
    export_date: dt.date
    files: int = 0
    lines_read: int = 0
    events_valid: int = 0
    lines_rejected: int = 0
    duplicates: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    damaged_files: list[str] = field(default_factory=list)
    pending_users: int = 0
    seconds: float = 0.0
    # files were added or written to while the load read the day: it is loaded as read, and its
    # recorded fingerprint (its files' before the reading) makes it load again
    changed_while_read: bool = False
    # the day was left as it was, and why: a file of its listing went while the load read the day
    # (a re-delivery under way), so its rows, and its recorded fingerprint, are those of before
    not_loaded_because: str | None = None


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection):
    """The statements of the `with` block as one transaction: committed at its end, rolled back on
    any error. A commit that fails (a full disk) has ended the transaction already: its error is
    the one to tell, not the rollback's "no transaction is active"."""
    conn.execute("begin transaction")
    try:
        yield
        conn.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):
            conn.execute("rollback")
        raise


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(RAW_DDL)
    has_owners = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'answer_owners'"
    ).fetchone()[0]
    if not has_owners:
        # A warehouse loaded before the table existed: its answers are filled in once, from raw.events.
        with transaction(conn):
            conn.execute(ANSWER_OWNERS_DDL)
            conn.execute(ANSWER_OWNERS_OF_EVENTS_SQL)
    ensure_user_agents(conn)


def ensure_user_agents(conn: duckdb.DuckDBPyConnection) -> None:
    """raw.user_agents holds every user_agent of raw.events as this parser parses it: created and
    filled from raw.events on a warehouse loaded before the table existed, and parsed again after
    an upgrade of the parser (the models are then rebuilt in full: refresh_state.seeds_fingerprint)."""
    has_table = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'user_agents'"
    ).fetchone()[0]
    by = parser_version()
    if has_table and not conn.execute(
            "select count(*) from raw.user_agents where parsed_by <> ?", [by]).fetchone()[0]:
        return
    with transaction(conn):
        if has_table:
            conn.execute("delete from raw.user_agents where parsed_by <> ?", [by])
        else:
            conn.execute(USER_AGENTS_DDL)
        add_user_agents(conn, "select user_agent from raw.events")


def add_user_agents(conn: duckdb.DuckDBPyConnection, user_agents_sql: str) -> None:
    """The strings of `user_agents_sql` (a query of one column, user_agent) that raw.user_agents
    lacks, parsed and added."""
    new = [ua for (ua,) in conn.execute(
        f"select distinct user_agent from ({user_agents_sql}) where user_agent is not null "
        "except select user_agent from raw.user_agents").fetchall()]
    if new:
        columns = list(zip(*parsed(new), strict=True))
        conn.execute("insert into raw.user_agents select unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
                     [list(c) for c in columns])


def loaded_export_days(conn: duckdb.DuckDBPyConnection) -> dict[dt.date, str]:
    """raw.export_days of the file `conn` opened: each loaded export day and the fingerprint of its
    files when it was loaded; empty when nothing was ever loaded there."""
    try:
        return dict(conn.execute("select export_date, fingerprint from raw.export_days").fetchall())
    except duckdb.CatalogException:
        return {}


# zlib's messages for a member whose deflate data ended but whose trailer does not match it
_CHECK_FAILURES = ("incorrect data check", "incorrect length check")


def _inflate(src: Path, sink) -> tuple[str | None, bool]:
    """Feeds the decompressed bytes of a gzip file, member after member, to `sink`, in large pieces;
    returns the damage, if any (the first: it stops there), and whether the file holds zero-byte
    padding. A check that the file is intact (_gzip_size); _salvage_gzip reads a damaged one.

    Zero bytes after a whole member are padding (a block device's, a tape's), as Python's gzip
    module reads them: not damage. Any other byte there must start a member. (DuckDB's and Spark's
    readers refuse such a file: the careful path reads it.)"""
    if src.stat().st_size == 0:
        return "empty gzip file (0 bytes)", False
    padded = False
    with src.open("rb") as fin:
        d = zlib.decompressobj(wbits=31)
        in_member = after_member = False
        while chunk := fin.read(1 << 20):
            while chunk:
                if after_member:  # no member starts with a zero byte (its magic is 1f 8b)
                    padded |= chunk[0] == 0
                    chunk = chunk.lstrip(b"\0")
                    if not chunk:
                        break
                in_member, after_member = True, False
                try:
                    sink(d.decompress(chunk))
                except zlib.error as exc:
                    return f"corrupt gzip data: {exc}", padded
                chunk = b""
                if d.eof:  # another gzip member may follow
                    chunk, d, in_member, after_member = d.unused_data, zlib.decompressobj(wbits=31), False, True
        if in_member:
            return "truncated gzip file", padded
    return None, padded


# A gzip member's first bytes: its magic and the deflate method (the only one gzip has)
_MEMBER_HEADER = b"\x1f\x8b\x08"
_SALVAGE_PIECE = 1 << 16


def _salvage_gzip(data: bytes) -> tuple[bytearray, list[str], list[tuple[int, int]]]:
    """The decompressed bytes of gzip file content `data` that can be read, the damage notes, and
    the spans of those bytes that belong to members whose check (CRC or length) failed.

    zlib gives nothing of a `decompress` call that fails, so the input goes in in small pieces, and
    a piece that fails goes in again a byte at a time from the state before it: every byte before a
    break in the deflate data is kept. After a break, reading goes on at the next member's header
    (a file of members one after another, `cat a.gz b.gz`, where one was damaged): a line the break
    cut ends there, and the lines after it are numbered as read. Bytes that only look like a header
    (nothing decompresses from them) are passed over."""
    out = bytearray()
    notes: list[str] = []
    failed: list[tuple[int, int]] = []
    pos, resumed = 0, False
    while pos < len(data):
        if data[pos] == 0:  # padding after a member (_inflate)
            pos = len(data) - len(data[pos:].lstrip(b"\0"))
            continue
        member_start, d, error = len(out), zlib.decompressobj(wbits=31), None
        while pos < len(data) and not d.eof:
            piece = data[pos:pos + _SALVAGE_PIECE]
            before = d.copy()
            try:
                out += d.decompress(piece)
            except zlib.error as exc:
                error, pos = exc, pos + _salvage_piece(before, piece, out.extend) + 1
                break
            pos += len(piece) - len(d.unused_data)
        if error is None and d.eof:
            resumed = False
            continue
        if error is None:
            out += d.flush()
            notes.append("truncated gzip file: kept the lines before the cut")
            break
        if not (resumed and len(out) == member_start):  # not a header's look-alike
            if any(failure in str(error) for failure in _CHECK_FAILURES):
                notes.append(f"corrupt gzip data: {error}")
                failed.append((member_start, len(out)))
            else:
                notes.append(f"corrupt gzip data: {error}; kept the lines before it")
        following = data.find(_MEMBER_HEADER, pos)
        if following < 0:
            break
        if out and not out.endswith(b"\n"):
            out += b"\n"
        pos, resumed = following, True
    return out, notes, failed


def _read_gzip(src: Path) -> tuple[bytearray, str | None, list[int]]:
    """The bytes of a gzip file (every member) that can be read, the damage, if any, and the numbers
    of the lines of members whose check failed: every byte before a break in the deflate data, the
    cut line with it, and the members after the break. A member whose data is whole but whose CRC
    or length does not match has damaged bytes somewhere in it: its lines are rejected as
    damaged_gzip_member (kept, as every line read is, not loaded as they read)."""
    if src.stat().st_size == 0:
        return bytearray(), "empty gzip file (0 bytes)", []
    out, notes, failed = _salvage_gzip(src.read_bytes())
    damaged_lines = []
    for start, end in failed:
        first = out.count(b"\n", 0, start) + 1
        lines = out.count(b"\n", start, end) + (end > start and out[end - 1] != ord("\n"))
        damaged_lines += range(first, first + lines)
        notes.append(f"{lines} line(s) of a gzip member whose check failed: rejected as damaged_gzip_member")
    return out, "; ".join(notes) or None, damaged_lines


def _salvage_piece(d, piece: bytes, sink) -> int:
    """Feeds `sink` what `d` decompresses of `piece` up to the byte zlib refuses; returns that byte's
    place in `piece`."""
    for at in range(len(piece)):
        try:
            sink(d.decompress(piece[at:at + 1]))
        except zlib.error:
            return at
    return len(piece) - 1


# One physical line per row: a delimiter no line holds, no quoting, and only "\n" ends a line. Strict
# mode makes anything else (a CR, the delimiter, invalid UTF-8) an error, which sends the file to the
# careful path below. The compression is the one the file's first bytes show, never its name's.
READ_LINES_SQL = """
(select $file_name as file_name, ordinality as line_number, line, false as invalid_utf8,
        false as damaged_gzip
 from read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1) || chr(2), quote = '', escape = '',
               header = false, auto_detect = false, strict_mode = true, new_line = '\\n',
               compression = $compression) with ordinality)
"""

# Blank lines (nothing, or spaces, tabs and a CR) are not lines; regexp is far cheaper than trim here.
IS_BLANK_SQL = f"(line is null or {DUCKDB.full_match('line', BLANK_LINE)})"

# One statement per file reads, parses and judges its lines (the lines themselves are never stored,
# only the event's columns, or the raw line of a reject). Blank lines stay as rows, marked, so that
# the characters read can be checked against the file's size; nothing else reads them.
CLASSIFY_SQL = """
insert into classified
with x as ({extracted}),
judged as (
    select *, {is_blank} as is_blank from x
),
reasoned as (
    select *, case when is_blank then null else {reason} end as reason from judged
)
select file_name, line_number, coalesce(strlen(line), 0) as line_chars, is_blank, reason,
    case when reason is not null then line end as line,
    s_e_event_id as event_id, s_e_event_type as event_type,
    case when reason is null then occurred_at end as occurred_at,
    s_e_assistant_id as assistant_id, s_e_channel as channel, s_e_user_id as user_id,
    s_e_conversation_id as conversation_id,
    case when reason is null and s_e_event_type = 'bot_message' then s_p_message_id end as message_id,
    case when t_e_user_agent = 'VARCHAR' then s_e_user_agent end as user_agent,
    -- the object's JSON text, as the extraction already wrote it: no parse of its own
    case when reason is not null then null
         when t_e_properties = 'OBJECT' then s_e_properties::json
         else '{{}}' end as properties
from reasoned
"""

CLASSIFIED_DDL = """
create or replace temp table classified (
    file_name varchar, line_number bigint, line_chars bigint, is_blank boolean, reason varchar,
    line varchar, event_id varchar, event_type varchar, occurred_at timestamptz, assistant_id varchar,
    channel varchar, user_id varchar, conversation_id varchar, message_id varchar, user_agent varchar,
    properties json
)
"""


def _classify(conn: duckdb.DuckDBPyConnection, lines_sql: str, params: dict) -> None:
    """Appends the judged lines of `lines_sql` (file_name, line_number, line, invalid_utf8, damaged_gzip)
    to `classified`."""
    sql = CLASSIFY_SQL.format(extracted=extracted_lines_sql(lines_sql), is_blank=IS_BLANK_SQL,
                              reason=reason_case_sql())
    conn.execute(sql, params)


GZIP_MAGIC = b"\x1f\x8b"


def _holds_gzip(path: Path) -> bool:
    """What the content is, whatever the name says: every gzip stream starts with 1f 8b."""
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def _format_note(path: Path, gzipped: bool) -> str | None:
    """A note for data quality when the name promises gzip or plain text and the content is not that."""
    named_gzip = path.name.endswith(".gz")
    if gzipped and not named_gzip:
        return "gzip content under a plain .jsonl name: read as gzip"
    if named_gzip and not gzipped:
        if path.stat().st_size == 0:
            return "empty gzip file (0 bytes)"
        return "plain text under a .jsonl.gz name: read as plain text"
    return None


def _gzip_size(path: Path) -> int | None:
    """The decompressed size of a gzip file that DuckDB's and Spark's readers read whole: intact (every
    member, CRC checked) and without padding; else None (the careful path reads it)."""
    size = 0

    def count(data: bytes) -> None:
        nonlocal size
        size += len(data)

    damage, padded = _inflate(path, count)
    return None if damage or padded else size


def _read_fast(conn: duckdb.DuckDBPyConnection, path: Path, name: str, gzipped: bool, day: dt.date) -> bool:
    """Reads and judges the file with DuckDB's own (gzip-aware) reader; False if it must take the
    careful path (nothing of the file is then left in `classified`).

    DuckDB checks no gzip CRC and does not always fail on a corrupt stream, so zlib checks the file
    in a thread meanwhile (it releases the GIL), and the characters DuckDB read must add up to the
    file's size.
    """
    params = {"file_name": name, "path": str(path), "compression": "gzip" if gzipped else "none",
              "export_day": day}
    with ThreadPoolExecutor(max_workers=1) as pool:
        expected = pool.submit(_gzip_size, path) if gzipped else None
        try:
            if gzipped:
                # DuckDB inflates a gzip file on one thread, and a statement that also judged the
                # lines would judge them on that thread alone: the text is staged first (zlib's check
                # runs on another core meanwhile), then judged on every thread.
                read = {k: v for k, v in params.items() if k != "export_day"}
                conn.execute(f"create or replace temp table file_lines as select * from {READ_LINES_SQL}", read)
                _classify(conn, "file_lines", {"export_day": day})
            else:
                _classify(conn, READ_LINES_SQL, params)  # a plain file is read and judged on every thread
            failed = False
        except duckdb.OutOfMemoryException:
            raise  # no room to read it (memory, or disk to spill to): the careful path needs more (_read_file)
        except duckdb.Error:
            failed = True  # the statement failed as a whole: nothing of this file is in classified
        finally:
            conn.execute("drop table if exists file_lines")
        size = expected.result() if expected else path.stat().st_size
    if failed:
        return False
    rows, chars = conn.execute(
        "select count(*), coalesce(sum(line_chars), 0) from classified where file_name = ?", [name]
    ).fetchone()
    # every row but possibly the last ended with "\n"
    if size in {chars + rows, chars + rows - 1}:
        return True
    conn.execute("delete from classified where file_name = ?", [name])
    return False


def _utf8_text(data: bytes) -> tuple[str, list[int]]:
    """The text of the file, and the numbers of its lines that are not valid UTF-8.

    Those lines keep their valid characters; each byte that is not UTF-8 becomes the four characters
    `\\xNN` (README). A newline byte never sits inside a multi-byte character, so checking line by line
    finds exactly the bad lines.
    """
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    lines, bad = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="backslashreplace"))
            bad.append(number)
    return "\n".join(lines), bad


def _invalid_utf8_note(lines: int) -> str:
    """A file's damage note for its lines that are not valid UTF-8 (both loaders write it)."""
    return f"{lines} line(s) not valid UTF-8: rejected as invalid_utf8"


def _careful_invalid_utf8_note(bad_lines: list[int], damaged_lines: list[int]) -> str | None:
    """The note for the lines of a file read by the careful path that are rejected as invalid_utf8:
    those not valid UTF-8 outside the gzip members whose check failed (those are rejected as
    damaged_gzip_member, the reason judged first, and counted in that member's note)."""
    lines = len(set(bad_lines) - set(damaged_lines))
    return _invalid_utf8_note(lines) if lines else None


_TEXT_PIECE_BYTES = 1 << 24  # the careful path checks and copies a file this much at a time


class _Utf8Check:
    """Whether the bytes passed through `passing`, one chunk after another, are UTF-8: checked a
    chunk at a time, so that no text of the whole is made."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.is_utf8 = True

    def passing(self, chunks: Iterator) -> Iterator:
        with contextlib.closing(chunks):  # stopped early (a failed write), a file's pieces close it now
            for chunk in chunks:
                if self.is_utf8:
                    try:
                        self._decoder.decode(chunk)
                    except UnicodeDecodeError:
                        self.is_utf8 = False
                yield chunk
        if self.is_utf8:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_utf8 = False


# The CRs that end a line (before its "\n"): the careful path's SQL trims them from each line
_LINE_END_CRS = re.compile(rb"\r+(?=\n)")


def _write_without_line_end_crs(chunks, file) -> None:
    """Writes the bytes of `chunks`, one after another, to `file`, without the CRs that end a line:
    a CRLF file's copy that DuckDB's line reader takes (it refuses any CR)."""
    crs = b""  # the CRs that end a chunk: they end a line if the next chunk starts with its "\n"
    for chunk in chunks:
        text = _LINE_END_CRS.sub(b"", crs + bytes(chunk))
        kept = text.rstrip(b"\r")
        file.write(kept)
        crs = text[len(kept):]
    # CRs at the very end end the last line, which has no "\n": left out too


def _pieces(data) -> Iterator[memoryview]:
    with memoryview(data) as view:
        for at in range(0, len(data), _TEXT_PIECE_BYTES):
            yield view[at:at + _TEXT_PIECE_BYTES]


class _ExportReadFailed(Exception):
    """An OSError of the export file's own read (its `__cause__`), raised while the careful path writes
    its copy: told apart from the copy's own errors, which are the temporary folder's."""


def _file_pieces(path: Path) -> Iterator[bytes]:
    """The bytes of the file at `path`, read a piece at a time (as `_pieces` cuts a buffer)."""
    try:
        with path.open("rb") as file:
            while piece := file.read(_TEXT_PIECE_BYTES):
                yield piece
    except OSError as exc:
        raise _ExportReadFailed from exc


def _copy_error(name: str, tmpdir: Path, exc: OSError) -> LoadError:
    """The temporary folder's fault (full, say), not the export file's."""
    return LoadError(f"cannot write the loader's temporary copy of {name} in {tmpdir.parent} (TMPDIR): "
                     f"{exc.strerror or exc}")


def _write_copy(text_path: Path, chunks: Iterator, name: str, tmpdir: Path) -> None:
    """Writes `chunks` to `text_path` without the CRs that end lines; an export file that cannot be
    read raises its own OSError (for _read_file to judge), the copy's errors a LoadError."""
    try:
        with contextlib.closing(chunks), open(text_path, "wb") as copy:
            _write_without_line_end_crs(chunks, copy)
    except _ExportReadFailed as exc:
        raise exc.__cause__ from None
    except OSError as exc:
        raise _copy_error(name, tmpdir, exc) from None


def _careful_text(path: Path, name: str, gzipped: bool, tmpdir: Path) -> tuple[Path, list[int], list[int], list[str]]:
    """The copy in `tmpdir` that DuckDB reads for the careful path: UTF-8 (every byte a gzip file
    gave; a line that is not UTF-8 with `\\xNN` for its bad bytes), without the CRs that end lines;
    the numbers of the lines that were not UTF-8, and of those of gzip members whose check failed;
    the damage notes. The text goes through Python a
    piece at a time where it can (a plain file), and Python's copies of it end with this call:
    DuckDB's read of it comes after, and a large file read this way (a CRLF one, say) must not be
    held twice. The export file is read once, so that the copy is of one version of it: a file
    replaced (a re-delivery) between two reads gave a copy of the new bytes judged by the old."""
    damage, damaged_lines = [], []
    # named by the path's digest, as _duckdb_path's links: the file's own name with ".txt" added
    # could pass the file system's longest name (255 bytes) and stop the load
    text_path = tmpdir / f"text-{hashlib.sha256(os.fsencode(path)).hexdigest()[:16]}.txt"
    check = _Utf8Check()
    if gzipped:
        data, gzip_damage, damaged_lines = _read_gzip(path)
        damage.append(gzip_damage)
        for _ in check.passing(_pieces(data)):
            pass
        if check.is_utf8:
            _write_copy(text_path, _pieces(data), name, tmpdir)
    else:
        _write_copy(text_path, check.passing(_file_pieces(path)), name, tmpdir)
        # The CRs that end lines are gone from the copy: the lines that are not UTF-8, and their
        # numbers, are those of the export file (a CR is a byte of its own in UTF-8).
        try:
            data = None if check.is_utf8 else text_path.read_bytes()
        except OSError as exc:
            raise _copy_error(name, tmpdir, exc) from None
    bad_lines = []
    if not check.is_utf8:
        text, bad_lines = _utf8_text(data)
        data = text.encode("utf-8")
        del text
        damage.append(_careful_invalid_utf8_note(bad_lines, damaged_lines))
        _write_copy(text_path, _pieces(data), name, tmpdir)
    return text_path, bad_lines, damaged_lines, damage


def _read_careful(conn: duckdb.DuckDBPyConnection, path: Path, name: str, gzipped: bool, tmpdir: Path,
                  day: dt.date) -> str | None:
    """Python gunzip that keeps what can be read of a damaged file; returns the damage, if any.

    A line that is not valid UTF-8 is kept with `invalid_utf8` set, to be rejected with that reason.
    """
    text_path, bad_lines, damaged_lines, damage = _careful_text(path, name, gzipped, tmpdir)
    # the copy through DuckDB's line reader, a piece at a time, as the fast path reads a file: it
    # takes one with no CR left in a line, no line to mark and nothing it would misread
    if not bad_lines and not damaged_lines and _read_fast(conn, text_path, name, False, day):
        return "; ".join(d for d in damage if d) or None
    conn.execute(
        """
        create or replace temp table careful_lines as
        with f as (select content from read_text($path)),
        parts as (select string_split(content, chr(10)) as l from f),
        numbered as (
            select unnest(l) as line, unnest(range(1, len(l) + 1)) as line_number from parts
        )
        select $file_name as file_name, line_number,
               case when ends_with(line, chr(13)) then rtrim(line, chr(13)) else line end as line,
               list_contains($bad_lines::bigint[], line_number) as invalid_utf8,
               list_contains($damaged_lines::bigint[], line_number) as damaged_gzip
        from numbered
        """,
        {"path": str(text_path), "file_name": name, "bad_lines": bad_lines, "damaged_lines": damaged_lines},
    )
    _classify(conn, "careful_lines", {"export_day": day})
    conn.execute("drop table careful_lines")
    return "; ".join(d for d in damage if d) or None


# DuckDB's readers take a path with one of these as a pattern: `part-[0].jsonl` read `part-0.jsonl`,
# and `*.jsonl` every file of the folder, hidden ones too
_GLOB_CHARACTERS = ("*", "?", "[")


def _duckdb_path(path: Path, tmpdir: Path) -> Path:
    """`path`, or where DuckDB would misread it, a link to it in `tmpdir` with a plain name: a path
    whose text is not UTF-8 (a name's bytes, which DuckDB cannot take as a path), or that holds a
    character DuckDB's readers take as a pattern. The lines keep the file's own name."""
    if is_utf8_path(path) and not any(c in str(path) for c in _GLOB_CHARACTERS):
        return path
    link = tmpdir / f"linked-{hashlib.sha256(os.fsencode(path)).hexdigest()[:16]}"
    link.symlink_to(path.absolute())
    return link


def _read_file(conn: duckdb.DuckDBPyConnection, path: Path, name: str, tmpdir: Path, day: dt.date) -> str | None:
    """Judges one file's lines (as file `name`), fast if DuckDB can read it whole; returns what data
    quality should know."""
    try:
        gzipped = _holds_gzip(path)
        source = _duckdb_path(path, tmpdir)
        fast = _read_fast(conn, source, name, gzipped, day)
        damage = None if fast else _read_careful(conn, source, name, gzipped, tmpdir, day)
        notes = [n for n in (_format_note(path, gzipped), damage) if n]
    except OSError as exc:
        raise gone_or_unreadable(exc, path, name) from None
    except duckdb.OutOfMemoryException as exc:
        # a file too big for the memory limit and the disk beside the build file (a gzip file that
        # inflates to gigabytes of lines, say): named, with what would let it load
        raise LoadError(f"cannot load the export file {name} of {day.isoformat()}: {first_line(exc)}: it needs more "
                        "than ANALYTICS_DUCKDB_MEMORY_LIMIT and the free disk beside the warehouse allow") from None
    return "; ".join(notes) or None


def _classify_lines(conn: duckdb.DuckDBPyConnection, folder: Path, tmpdir: Path, day: dt.date,
                    on_file_read: Callable[[int, int], None] | None = None) -> tuple[list[dict], list[str]]:
    """Fills temp table `classified` with the day's lines, each judged valid or rejected (or blank).
    `on_file_read(files read, files)` after each file."""
    conn.execute(CLASSIFIED_DDL)
    files, damaged = [], []
    paths = export_files(folder)
    for done, (path, name) in enumerate(shown_names(paths).items(), start=1):
        damage = _read_file(conn, path, name, tmpdir, day)
        if on_file_read is not None:
            on_file_read(done, len(paths))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ExportFileGone(name) from None  # read, then removed
        files.append({"file_name": name, "size_bytes": size, "damage": damage})
        if damage:
            damaged.append(f"{name}: {damage}")
    counts = dict(conn.execute("select file_name, count(*) from classified where not is_blank group by 1").fetchall())
    for f in files:
        f["lines_read"] = counts.get(f["file_name"], 0)
    return files, damaged


COPIES_OF_DAY_SQL = """
create or replace temp table day_copies as
-- every copy, in any export day, of an event this day holds: the day's first copies may move, and
-- one scan of the history serves both the affected users and the duplicate count
select export_date, file_name, line_number, event_id, event_type, assistant_id, user_id
from raw.events
where event_id in (select event_id from raw.events where export_date = $day)
"""


PENDING_USERS_SQL = """
insert into raw.pending_users
with rated_messages as (
    -- what every copy of the day's feedback events rates: when a first copy moves, another copy,
    -- which may rate another answer, starts to count
    select distinct assistant_id, properties ->> '$.message_id' as message_id
    from raw.events
    where event_type = 'feedback'
      and event_id in (select event_id from day_copies where event_type = 'feedback')
),
rated_answer_owners as (
    -- feedback attaches to an answer that may sit with another user, loaded on any export day. Every
    -- copy of the answer counts, not only the first: an owner too many is only recomputed for nothing.
    -- Run before the day's old rows go and after its new rows are in, this finds the owner before
    -- and after the load; an owner whose answer an earlier, not yet built load removed was marked
    -- pending by that load.
    select answers.assistant_id, answers.user_id
    from raw.answer_owners as answers
    semi join rated_messages
        on answers.assistant_id = rated_messages.assistant_id and answers.message_id = rated_messages.message_id
)
select distinct $day, assistant_id, user_id
from (select assistant_id, user_id from day_copies union all select * from rated_answer_owners)
"""


DUPLICATES_SQL = """
-- a copy in the day is a duplicate unless it is the event's first copy, which is in this day when
-- no copy is in an earlier day (copies are ordered by export day first); an aggregate, not a sort
select coalesce(sum(copies_in_day - case when first_day = $day then 1 else 0 end), 0)
from (
    select count(*) filter (where export_date = $day) as copies_in_day, min(export_date) as first_day
    from day_copies
    group by event_id
)
where copies_in_day > 0
"""


def _mark_pending_users(conn: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Adds to raw.pending_users every user whose results the day's current rows can change."""
    conn.execute(COPIES_OF_DAY_SQL, params)
    conn.execute(PENDING_USERS_SQL, params)


_TEMPORARY_PREFIX = "aa-load-"


def _temporary_folder() -> tempfile.TemporaryDirectory:
    """The load's folder for the text copies of gzip files (TMPDIR), named with this process's id.
    A load killed outright cannot remove its folder, which may hold a day's inflated text; each load
    first removes the folders of loads whose process is gone (and those of loads before the folders
    were named so, once a day old: no load lasts that long)."""
    day_ago = time.time() - 86_400
    for stale in Path(tempfile.gettempdir()).glob(f"{_TEMPORARY_PREFIX}*"):
        pid, named, _ = stale.name.removeprefix(_TEMPORARY_PREFIX).partition("-")
        with contextlib.suppress(OSError):
            gone = (process_gone(int(pid)) if named and pid.isdigit()
                    else stale.is_dir() and stale.stat().st_mtime < day_ago)
            if gone:
                shutil.rmtree(stale, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-")


def load_export_day(conn: duckdb.DuckDBPyConnection, exports_dir: Path, day: dt.date, *,
                    mark_pending: bool = True, on_file_read: Callable[[int, int], None] | None = None) -> LoadStats:
    """Loads (or re-loads) one export day in a single transaction.

    `mark_pending=False` is for a load that a full rebuild follows, which recomputes every user: the
    caller must have recorded that full rebuild as owed first (refresh_state.mark_full_refresh_owed),
    so that a run cut short after the load still rebuilds every user next time. `on_file_read(files
    read, files)` is called after each file is read (a day's progress).
    """
    started = time.perf_counter()
    folder = check_export_day(exports_dir, day)
    ensure_raw_schema(conn)
    stats = LoadStats(export_date=day)
    # The files as they are before any is read: a file that changes while the load reads it then
    # leaves the day with a fingerprint other than its files', which the sensor and `status` see
    # as re-delivered, and the next refresh loads again. Taken after the reading, it would record
    # the change as loaded, and it never would be.
    delivered = fingerprint(folder)
    with _temporary_folder() as tmp:
        try:
            files, damaged = _classify_lines(conn, folder, Path(tmp), day, on_file_read)
        except ExportFileGone as gone:
            # The day is being delivered (again): loading what is left of it would replace its rows
            # with part of a day, and a file put back as it was (`tar x`, `cp -p`) would leave its
            # recorded fingerprint equal to the folder's, its lines lost for good. So the day is
            # left as it was, still new or re-delivered, and the next refresh or sensor tick loads it.
            conn.execute("drop table if exists classified")
            stats.not_loaded_because = removed_while_read(folder, gone.name)
            stats.seconds = time.perf_counter() - started
            return stats
    stats.changed_while_read = changed_since(folder, delivered)
    stats.files = len(files)
    stats.damaged_files = damaged
    params = {"day": day}
    with transaction(conn):
        if mark_pending:
            _mark_pending_users(conn, params)  # users the old copy of the day touched
        # the user agents of the day's old copy: those no event holds after the load are dropped
        conn.execute("create or replace temp table replaced_day_agents as select distinct user_agent "
                     "from raw.events where export_date = $day and user_agent is not null", params)
        for table in ("events", "answer_owners", "rejected_lines", "export_files", "export_days"):
            conn.execute(f"delete from raw.{table} where export_date = $day", params)
        conn.execute(
            """
            insert into raw.events
            select $day, file_name, line_number, event_id, event_type, occurred_at, assistant_id, channel,
                user_id, conversation_id, user_agent, properties
            from classified
            where reason is null and not is_blank
            """,
            params,
        )
        conn.execute(
            """
            insert into raw.answer_owners
            select $day, assistant_id, message_id, user_id
            from classified
            where reason is null and not is_blank and event_type = 'bot_message'
            """,
            params,
        )
        add_user_agents(conn, "select user_agent from classified where reason is null and not is_blank")
        conn.execute(DROP_UNUSED_AGENTS_SQL)
        conn.execute(
            """
            insert into raw.rejected_lines
            select $day, file_name, line_number, line, reason
            from classified where reason is not null
            """,
            params,
        )
        if files:
            conn.executemany(
                "insert into raw.export_files values (?, ?, ?, ?, ?)",
                [[day, f["file_name"], f["size_bytes"], f["lines_read"], f["damage"]] for f in files],
            )
        conn.execute(COPIES_OF_DAY_SQL, params)  # the day's copies: for its pending users and its duplicates
        if mark_pending:
            conn.execute(PENDING_USERS_SQL, params)  # users the new copy touches
        stats.lines_read = sum(f["lines_read"] for f in files)
        conn.execute(
            "insert into raw.export_days values ($day, $fp, $files, $lines, now())",
            {**params, "fp": delivered, "files": len(files), "lines": stats.lines_read},
        )
    rows = conn.execute(
        "select reason, count(*) from classified where reason is not null group by 1 order by 1"
    ).fetchall()
    stats.rejects_by_reason = {r: n for r, n in rows}
    stats.lines_rejected = sum(stats.rejects_by_reason.values())
    stats.events_valid = stats.lines_read - stats.lines_rejected
    stats.duplicates = conn.execute(DUPLICATES_SQL, params).fetchone()[0]
    stats.pending_users = conn.execute(
        "select count(*) from (select distinct assistant_id, user_id from raw.pending_users)"
    ).fetchone()[0]
    conn.execute("drop table if exists classified; drop table if exists day_copies; "
                 "drop table if exists replaced_day_agents")
    stats.seconds = time.perf_counter() - started
    return stats
