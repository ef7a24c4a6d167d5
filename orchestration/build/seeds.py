"""The seeds a deployment edits (seeds/assistants.csv, seeds/channels.csv), checked before a refresh
loads anything.

dbt reads a seed with Python's CSV reader (agate: the columns and how many values a row may hold),
then dbt-duckdb loads it with DuckDB's (`COPY ... FROM`: the values), and the tests on the seeds
(their not_null and unique tests, assert_channel_timeouts_positive,
assert_assistant_timezones_are_valid) fail the build only after the day's load, naming a test, not
the file, the line and what is allowed. Here each of those rules is one line naming all three,
before anything starts: Python's reader gives the columns, each row's count of values and the line
it starts on, and DuckDB reads the values with dbt-duckdb's options (quotes, spaces around them, a
byte order mark, blank lines, line ends, casts). Stricter in two ways: a timeout DuckDB would round
(`30.6` loads as 31 minutes without a word), and a channel or assistant_id with spaces around it
(`web ` is not the exports' `web`, which would keep the default timeout), are refused. The dbt tests
stay: they check the seeds as built, on Spark too, whose time zones are Java's: on Spark the zone
rule is left to its test.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from pathlib import Path

import duckdb

from ..errors import UserError, first_line
from ..settings import PROJECT_ROOT, analytics_engine

SEEDS_DIR = PROJECT_ROOT / "seeds"
# dbt-duckdb's seed load reads the file with these options (its macro duckdb__load_csv_rows); no
# comment lines, which DuckDB guesses for text columns (`#note,x` skipped) but not for its typed COPY
_READ = "read_csv(?, header = true, delim = ',', all_varchar = true, comment = '')"
# `GMT+3`, `UTC-05:00`: an offset, which difflib would "correct" to another one (GMT+0)
_OFFSET = re.compile(r"(?i)(gmt|utc)?\s*[+-]\s*\d")


def check_seeds(seeds_dir: Path | None = None) -> None:
    """Raises UserError naming the first seed line that breaks a rule of the seeds' dbt tests (the
    project's seeds/ unless `seeds_dir` is given)."""
    seeds_dir = seeds_dir or SEEDS_DIR
    conn = duckdb.connect()
    try:
        _check_channels(conn, seeds_dir / "channels.csv")
        _check_assistants(conn, seeds_dir / "assistants.csv")
    finally:
        conn.close()


def _check_channels(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    first_line_of: dict[str, str] = {}
    # DuckDB's casts: the ones of the load, which takes `+30` or `3e1` as 30 and rounds `30.6`
    rows = _rows(conn, path, ("channel", "inactivity_timeout_minutes"),
                 "select channel, inactivity_timeout_minutes, try_cast(inactivity_timeout_minutes as integer), "
                 f"try_cast(inactivity_timeout_minutes as double) from {_READ}")
    for line, (channel, minutes, whole, number) in rows:
        _check_key(path, line, "channel", channel, first_line_of)
        if minutes is not None and not (whole is not None and whole > 0 and number in (None, whole)):
            raise UserError(f"{path} {line}: inactivity_timeout_minutes {minutes!r} of channel {channel!r} "
                            "is not valid: expected a whole number of minutes above 0, or empty for no timeout")


def _check_assistants(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    first_line_of: dict[str, str] = {}
    rows = _rows(conn, path, ("assistant_id", "name", "timezone"), f"select assistant_id, name, timezone from {_READ}")
    zones = {name for (name,) in conn.execute("select name from pg_timezone_names()").fetchall()}
    for line, (assistant, name, zone) in rows:
        _check_key(path, line, "assistant_id", assistant, first_line_of)
        for column, value in (("name", name), ("timezone", zone)):
            if value is None:
                raise UserError(f"{path} {line}: the {column} of assistant {assistant!r} is empty")
        # the models' local times are ICU's on DuckDB; Spark's zones are Java's, judged by its test
        if zone not in zones and analytics_engine() == "duckdb":
            raise UserError(f"{path} {line}: timezone {zone!r} of assistant {assistant!r} is not a time "
                            f"zone DuckDB knows{_zone_hint(zone, zones)}")


def _zone_hint(zone: str, zones: set[str]) -> str:
    same_but_case = [z for z in sorted(zones) if z.casefold() == zone.casefold()]
    if same_but_case:
        return f" (did you mean {same_but_case[0]!r}? names are case-sensitive)"
    close = [] if _OFFSET.search(zone) else difflib.get_close_matches(zone, sorted(zones), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return " (an IANA name, e.g. 'Europe/Rome'; a fixed offset of UTC+3 is 'Etc/GMT-3', its sign reversed)"


def _check_key(path: Path, line: str, column: str, value: str | None, first_line_of: dict[str, str]) -> None:
    if value is None:
        raise UserError(f"{path} {line}: {column} is empty")
    if value != value.strip():
        raise UserError(f"{path} {line}: {column} {value!r} has spaces around it, which count: did you mean "
                        f"{value.strip()!r}?")
    if value in first_line_of:
        raise UserError(f"{path} {line}: {column} {value!r} is listed twice ({first_line_of[value]} too)")
    first_line_of[value] = line


def _rows(conn: duckdb.DuckDBPyConnection, path: Path, columns: tuple[str, ...], sql: str) -> list[tuple[str, tuple]]:
    """The seed's rows as `sql` selects them from DuckDB's reading of the file, each with where it
    starts (`line N`; `row N` of the data if the file's records cannot be matched to lines)."""
    if not path.is_file():
        raise UserError(f"{path} is missing or not a file: dbt loads it as a seed, which every refresh needs")
    header, starts = _header_and_record_lines(path)
    # DuckDB would read a name given twice as another (`channel_1`), dbt's table then has both
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise UserError(f"{path}: its first line names {', '.join(twice)} more than once")
    # dbt names the table's columns as written (spaces too); DuckDB's reader would trim them
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(f"{path}: its first line must name the columns {','.join(columns)} "
                        f"({', '.join(missing)} missing)")
    try:
        rows = conn.execute(sql, [str(path)]).fetchall()
    except duckdb.Error as exc:  # what makes dbt's load of the seed fail too
        hint = (": every line must hold as many values as the first, with one kind of line end"
                if isinstance(exc, duckdb.InvalidInputException) else "")
        raise UserError(f"{path}: DuckDB cannot read it as dbt loads a seed ({first_line(exc)}){hint}") from None
    if len(starts) != len(rows):
        return [(f"row {n}", row) for n, row in enumerate(rows, start=1)]
    return [(f"line {start}", row) for start, row in zip(starts, rows, strict=True)]


def _header_and_record_lines(path: Path) -> tuple[list[str], list[int]]:
    """The first line's names (in lower case: DuckDB's names are), and the line each data record
    starts on (a quoted value may span lines), each record holding as many values as the first
    line names: dbt's reader refuses a row of more (DuckDB's would drop the extra one), and pads a
    row of fewer, which DuckDB's COPY then refuses."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: {(exc.strerror or type(exc).__name__).lower()}") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = len(before.splitlines()) + (not before or before.endswith((b"\n", b"\r")))
        raise UserError(f"{path} line {line}: not UTF-8 text (byte {data[exc.start]:#04x}): save the file as "
                        "UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    try:
        header = [name.lower() for name in next(reader, [])]
        starts = []
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                return header, starts
            if not record:  # a blank line is not a record (DuckDB passes over it)
                continue
            if len(record) != len(header):
                if reader.line_num > start:  # the record ran on over lines: a quote never closed
                    raise UserError(f"{path} line {start}: a quote opened on this line is never closed (a quote "
                                    'inside a value is written "")')
                raise UserError(f"{path} line {start}: {len(record)} value{'s' * (len(record) != 1)}, but its "
                                f"first line names {len(header)} columns")
            starts.append(start)
    except csv.Error:
        return header, []  # DuckDB says why, or the rows are named by their place
