"""The seeds a deployment edits (seeds/assistants.csv, seeds/channels.csv), checked before a refresh
loads anything.

dbt loads a seed as DuckDB's CSV reader reads it (dbt-duckdb's `COPY ... FROM`), and the tests on
the seeds (their not_null and unique tests, assert_channel_timeouts_positive,
assert_assistant_timezones_are_valid) fail the build only after the day's load, naming a test, not
the file, the line and what is allowed. Here each rule of those tests is one line naming all three,
before anything starts. The file is read as that reader reads it: a byte order mark and blank lines
passed over, an empty field (quoted or not) is NULL, column names in any case. Stricter in one
way: a timeout must be written as a whole number (DuckDB rounds `30.6` to 31 minutes without a
word). The dbt tests stay: they check the seeds as built, on Spark too.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path

import duckdb

from ..errors import UserError
from ..settings import PROJECT_ROOT

SEEDS_DIR = PROJECT_ROOT / "seeds"
_MOST_MINUTES = 2**31 - 1  # the column is an integer


def check_seeds(seeds_dir: Path | None = None) -> None:
    """Raises UserError naming the first seed line that breaks a rule of the seeds' dbt tests (the
    project's seeds/ unless `seeds_dir` is given)."""
    seeds_dir = seeds_dir or SEEDS_DIR
    _check_channels(seeds_dir / "channels.csv")
    _check_assistants(seeds_dir / "assistants.csv")


def _check_channels(path: Path) -> None:
    first_line_of: dict[str, int] = {}
    for line, row in _rows(path, ("channel", "inactivity_timeout_minutes")):
        channel, minutes = row["channel"], row["inactivity_timeout_minutes"]
        _check_key(path, line, "channel", channel, first_line_of)
        digits = minutes.strip()
        if minutes and not (digits.isascii() and digits.isdigit() and 0 < int(digits) <= _MOST_MINUTES):
            raise UserError(f"{path} line {line}: inactivity_timeout_minutes {minutes!r} of channel {channel!r} "
                            "is not valid: expected a whole number of minutes above 0, or empty for no timeout")


def _check_assistants(path: Path) -> None:
    first_line_of: dict[str, int] = {}
    zones: set[str] | None = None
    for line, row in _rows(path, ("assistant_id", "name", "timezone")):
        assistant, zone = row["assistant_id"], row["timezone"]
        _check_key(path, line, "assistant_id", assistant, first_line_of)
        for column in ("name", "timezone"):
            if not row[column]:
                raise UserError(f"{path} line {line}: the {column} of assistant {assistant!r} is empty")
        zones = _known_time_zones() if zones is None else zones
        if zone not in zones:
            close = difflib.get_close_matches(zone, sorted(zones), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (an IANA name, e.g. 'Europe/Rome')"
            raise UserError(f"{path} line {line}: timezone {zone!r} of assistant {assistant!r} is not a time "
                            f"zone DuckDB knows{hint}")


def _check_key(path: Path, line: int, column: str, value: str, first_line_of: dict[str, int]) -> None:
    if not value:
        raise UserError(f"{path} line {line}: {column} is empty")
    if value in first_line_of:
        raise UserError(f"{path} line {line}: {column} {value!r} is listed twice (line {first_line_of[value]} too)")
    first_line_of[value] = line


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The seed's rows (its line number, its values by column name) as DuckDB's CSV reader reads it."""
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{path}: {(exc.strerror or type(exc).__name__).lower()}") from None
    reader = csv.reader(io.StringIO(text))
    header = [name.lower() for name in next(reader, [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(f"{path}: its first line must name the columns {','.join(columns)} "
                        f"({', '.join(missing)} missing)")
    rows = []
    for fields in reader:
        if not fields:  # a blank line, which DuckDB's reader passes over
            continue
        if len(fields) != len(header):
            raise UserError(f"{path} line {reader.line_num}: {len(fields)} value{'s' * (len(fields) != 1)}, but "
                            f"its first line names {len(header)} columns")
        rows.append((reader.line_num, dict(zip(header, fields, strict=True))))
    return rows


def _known_time_zones() -> set[str]:
    """The zones the models' local times are computed in (ICU's, as assert_assistant_timezones_are_valid
    lists them on DuckDB)."""
    conn = duckdb.connect()
    try:
        return {name for (name,) in conn.execute("select name from pg_timezone_names()").fetchall()}
    finally:
        conn.close()
