"""Every `ANALYTICS_*` setting: read from the environment here and nowhere else, when it is needed.

Each function reads its variable at the time of the call and checks its form: a bad value raises a
`UserError` naming the variable, the value and what is allowed (the CLI prints it as one line).
Unset or empty means the default.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shlex
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _bad(name: str, value: str, allowed: str) -> UserError:
    return UserError(f"{name}={value!r} is not valid: expected {allowed}")


# Beyond any sensible value, and within what every consumer takes (a thread pool, a timer, a C
# integer): a value past it is a mistake, refused here rather than failing deep in a run.
_LARGEST = 10**9
_MOST_THREADS = 256


def _int(name: str, default: int, minimum: int, maximum: int = _LARGEST) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    # the length first: Python refuses to convert a number of thousands of digits
    if not re.fullmatch(r"[0-9]{1,18}", raw) or not minimum <= int(raw) <= maximum:
        raise _bad(name, raw, f"a whole number >= {minimum} and <= {maximum}")
    return int(raw)


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _raw(name)
    if raw is None:
        return default
    if raw not in choices:
        raise _bad(name, raw, " or ".join(choices))
    return raw


def _float(name: str, default: float, minimum: float, maximum: float = _LARGEST) -> float:
    raw = _raw(name)
    if raw is None:
        return default
    allowed = f"a number >= {minimum:g} and <= {maximum:g}"
    # Plain decimals only: float() would also take 'nan', 'inf' and '1_0'.
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", raw):
        raise _bad(name, raw, allowed)
    value = float(raw)
    if not minimum <= value <= maximum:
        raise _bad(name, raw, allowed)
    return value


# Paths -------------------------------------------------------------------------------------------

def resolved_path(path: Path, given_as: str) -> Path:
    """`path` made absolute, its links followed; a path the system cannot look up at all (a name too
    long, a loop of symbolic links) is one line naming where it was given (an option or a variable),
    not a traceback wherever it is first used. A path made later, or one a command checks itself
    (a missing file), is returned as it is."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        # bytes that are not UTF-8 in a name (or a locale that is not UTF-8): DuckDB opens UTF-8 paths only
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")  # the bytes as given: \xff
        raise UserError(f"{given_as} {shown}: the path is not UTF-8 text, and DuckDB opens UTF-8 paths only "
                        "(rename it, or use a UTF-8 locale)") from None
    try:
        resolved = path.resolve()
        os.stat(resolved)
    except (FileNotFoundError, NotADirectoryError):
        return resolved  # made later, or refused by the command's own check
    except RuntimeError:  # Python 3.11's resolve() on a loop
        raise UserError(f"{given_as} {path}: too many levels of symbolic links") from None
    except OSError as exc:
        if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):
            raise UserError(f"{given_as} {path}: {exc.strerror.lower()}") from None
    return resolved


def default_warehouse_given_as() -> str:
    """Where the warehouse path came from when no --warehouse was given, for an error naming it."""
    return "ANALYTICS_WAREHOUSE" if _raw("ANALYTICS_WAREHOUSE") else "the default warehouse"


def default_warehouse() -> Path:
    raw = _raw("ANALYTICS_WAREHOUSE")
    return resolved_path(Path(raw), "ANALYTICS_WAREHOUSE") if raw else Path("data/warehouse.duckdb").resolve()


def warehouse_option(warehouse: Path) -> str:
    """` --warehouse <path>` for a command that a hint prints, unless `warehouse` is the default
    one (a default that cannot be resolved is none: the option is given, and the hint is no error)."""
    return _hint_option("--warehouse", warehouse, default_warehouse)


def exports_option(exports: Path | None) -> str:
    """` --exports <path>` for a command that a hint prints, unless `exports` is None (not known
    where the hint is made) or the default exports folder (one that cannot be resolved is none)."""
    return "" if exports is None else _hint_option("--exports", exports, default_exports)


def _hint_option(option: str, path: Path, default: Callable[[], Path]) -> str:
    try:
        default_path = default()
    except UserError:
        default_path = None
    return "" if path == default_path else f" {option} {shlex.quote(str(path))}"


def default_exports() -> Path:
    raw = _raw("ANALYTICS_EXPORTS")
    return resolved_path(Path(raw), "ANALYTICS_EXPORTS") if raw else Path("data/exports").resolve()


def build_path_for(warehouse: Path) -> Path:
    """The private file a refresh writes; readers only ever see `warehouse`."""
    return warehouse.with_name(f".{warehouse.stem}.build{warehouse.suffix}")


def publish_path_for(warehouse: Path, pid: int) -> Path:
    """The temporary file a publish of process `pid` writes beside the warehouse before its rename."""
    return warehouse.with_name(f".{warehouse.name}.publish-{pid}.tmp")


_NAME_MAX = 255  # bytes in a file's name, on Linux's file systems and macOS's
_PID_MAX = 2 ** 22  # Linux's largest process id: the longest publish file name


def check_warehouse_name(warehouse: Path) -> None:
    """One line unless dbt can build `warehouse`'s build file. DuckDB names a file's database after
    the first dot-separated part of its name; dbt-duckdb derives that name from the file's path
    read as a URL (where `#` and `?` end the path, `;` ends its last part, and tabs and line breaks
    are dropped) and writes it into SQL text unescaped. Where the two names differ, or the name
    holds a quote, dbt's first statement fails after the load, with dbt's "Runtime Error". A name
    too long for the files a refresh keeps beside it would fail at the first of them."""
    from urllib.parse import urlparse

    build = build_path_for(warehouse)
    database = build.name.lstrip(".").split(".")[0]
    as_dbt_reads_it = os.path.basename(urlparse(str(build)).path).lstrip(".").split(".")[0]
    # the longest of the files a refresh keeps beside the warehouse (publish's temporary file)
    beside = publish_path_for(warehouse, _PID_MAX).name
    if len(os.fsencode(beside)) > _NAME_MAX:
        raise UserError(f"the warehouse file name {warehouse.name!r} is too long: a refresh keeps files beside it "
                        f"named after it with up to {len(beside) - len(warehouse.name)} more characters, over the "
                        f"file system's {_NAME_MAX} bytes: give it a shorter name")
    if as_dbt_reads_it != database or "'" in database or '"' in database:
        raise UserError(f"the warehouse path {str(warehouse)!r} cannot be built by dbt, which takes the database's "
                        "name from the path: rename the file (no quote, tab or line break in its name, no `;`) "
                        "or move it (no `#` or `?` in its path)")


def lock_path_for(warehouse: Path) -> Path:
    """The file whose lock one refresh at a time holds (build/build_file.refresh_lock)."""
    return warehouse.with_name(warehouse.name + ".lock")


def spark_dir_for(warehouse: Path) -> Path:
    """The Spark engine's folder for a warehouse (its tables, metastore and raw Parquet): the
    warehouse file's path + `.spark`, as profiles.yml's default for a by-hand dbt run."""
    return warehouse.with_name(warehouse.name + ".spark")


# The engine ---------------------------------------------------------------------------------------

ENGINES = ("duckdb", "spark")


def analytics_engine() -> str:
    """Which engine builds the dbt models (docs/spark.md): `duckdb` (the default) or `spark`."""
    return _choice("ANALYTICS_ENGINE", "duckdb", ENGINES)


def user_cache_dir() -> Path:
    """The user's cache folder for what the Spark engine builds once per machine (docs/spark.md):
    $XDG_CACHE_HOME, else ~/.cache, then assistant-analytics."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache") / "assistant-analytics"


def spark_class_archive_dir() -> Path | None:
    """Where the Spark JVM's class archive is kept (docs/spark.md, "Class data sharing"): the user's
    cache folder, or None with ANALYTICS_SPARK_CLASS_ARCHIVE=off."""
    if _choice("ANALYTICS_SPARK_CLASS_ARCHIVE", "on", ("on", "off")) == "off":
        return None
    return user_cache_dir()


# A refresh ---------------------------------------------------------------------------------------

def iso_day(text: str) -> dt.date | None:
    """`text` as a date if it is exactly YYYY-MM-DD and a real day, else None. (`fromisoformat`
    alone also takes 20261101 and week dates such as 2026-W47-1.)"""
    try:
        return dt.date.fromisoformat(text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    except ValueError:
        return None


def first_export_day() -> dt.date:
    """The first day of the export-day partitions."""
    raw = _raw("ANALYTICS_FIRST_EXPORT_DAY")
    if raw is None:
        return dt.date(2024, 1, 1)
    day = iso_day(raw)
    # Dagster's partitions take years of four digits, and end the day after tomorrow
    if day is None or not dt.date(1970, 1, 1) <= day <= dt.date(2999, 12, 31):
        raise _bad("ANALYTICS_FIRST_EXPORT_DAY", raw, "a date YYYY-MM-DD from 1970-01-01 to 2999-12-31")
    return day


def lock_timeout_seconds() -> float:
    return _float("ANALYTICS_LOCK_TIMEOUT_SECONDS", 900.0, 0.0)


def max_days_per_run() -> int:
    """0: no limit."""
    return _int("ANALYTICS_MAX_DAYS_PER_RUN", 0, 0)


def max_export_bytes_per_run() -> int:
    return int(_float("ANALYTICS_MAX_EXPORT_MB_PER_RUN", 256.0, 0.0) * 1e6)


def verbose() -> bool:
    raw = _raw("ANALYTICS_VERBOSE")
    if raw is None:
        return False
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise _bad("ANALYTICS_VERBOSE", raw, "1, true, yes, on, or 0, false, no, off")


def dbt_threads() -> int:
    """dbt nodes at once in an incremental build, and in every build on Spark (profiles.yml reads
    the same variable)."""
    return _int("ANALYTICS_DBT_THREADS", 2, 1, _MOST_THREADS)


def dbt_threads_full() -> int:
    """dbt nodes at once in a full rebuild on DuckDB (on Spark: dbt_threads, profiles.yml)."""
    return _int("ANALYTICS_DBT_THREADS_FULL", 1, 1, _MOST_THREADS)


def dbt_tests() -> str:
    """`kpi`: an incremental build (and any build on Spark) runs the KPI and uniqueness tests, a full
    rebuild on DuckDB every test; `all`: every build runs every test."""
    return _choice("ANALYTICS_DBT_TESTS", "kpi", ("kpi", "all"))


# DuckDB's own units; a share of the machine's memory ends in %. Spaces only between number and unit:
# DuckDB reads no other blank there (a Unicode space passed here, then failed the run's load).
_MEMORY_LIMIT = re.compile(r"(?:[0-9]+(?:\.[0-9]+)? *(?:[KMGT]i?B)|[0-9]+(?:\.[0-9]+)? *%)", re.IGNORECASE)
_MEMORY_LIMIT_ALLOWED = ("a size from 128MB to 1024TB such as 512MB, 3GB or 1.5GiB (units KB, MB, GB, TB, "
                         "KiB, MiB, GiB, TiB) or a share of the machine's memory from 1% to 100% such as 75%")
_UNIT_BYTES = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _memory_limit_usable(limit: str) -> bool:
    """Within what DuckDB can run a refresh in and can represent: a size of at least 128MB (the
    demo's refresh fails its KPI tests at 64MB with "failed to pin block"; a larger warehouse needs
    more) and at most 1024TB (DuckDB refuses much more as out of range), or a share from 1% to 100%."""
    number = float(re.match(r"[0-9.]+", limit)[0])
    if limit.endswith("%"):
        return 1 <= number <= 100
    unit = re.search(r"[A-Za-z]+$", limit)[0].upper()
    return 128 * 10**6 <= number * _UNIT_BYTES[unit] <= 1024 * 10**12


DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"  # profiles.yml repeats it (dbt reads only the environment)


@dataclass(frozen=True)
class DuckDBLimits:
    """DuckDB's memory_limit and threads for the connections a refresh opens (threads None: DuckDB's
    default, one per core).

    profiles.yml gives dbt-duckdb the same variables and the same memory default; `check_dbt_settings`
    validates them first. The default memory limit leaves room for the process around DuckDB (Python,
    Dagster or dbt) within the 4 GiB a refresh may use.
    """

    memory_limit: str
    threads: int | None

    @classmethod
    def from_env(cls) -> DuckDBLimits:
        memory_limit = _raw("ANALYTICS_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT
        if not _MEMORY_LIMIT.fullmatch(memory_limit) or not _memory_limit_usable(memory_limit):
            raise _bad("ANALYTICS_DUCKDB_MEMORY_LIMIT", memory_limit, _MEMORY_LIMIT_ALLOWED)
        return cls(memory_limit=memory_limit, threads=_int("ANALYTICS_DUCKDB_THREADS", 0, 1, _MOST_THREADS) or None)

    def config(self) -> dict[str, str | int]:
        """For `duckdb.connect(path, config=...)`: values, never SQL text."""
        out: dict[str, str | int] = {"memory_limit": self.memory_limit}
        if self.threads:
            out["threads"] = self.threads
        return out


def check_dbt_settings() -> None:
    """Everything dbt reads from the environment (profiles.yml) or the dbt asset passes to it,
    checked before dbt starts: dbt reports a bad value late and obscurely, dbt-duckdb writes the
    DuckDB settings into SQL."""
    analytics_engine()
    dbt_threads()
    dbt_threads_full()
    dbt_tests()
    DuckDBLimits.from_env()


def check_refresh_settings() -> None:
    """Every setting a refresh reads, checked before it loads anything."""
    first_export_day()
    spark_class_archive_dir()
    lock_timeout_seconds()
    max_days_per_run()
    max_export_bytes_per_run()
    verbose()
    check_dbt_settings()
    check_dagster_settings()  # a refresh runs the asset checks; the sensor's ones for consistency


# Dagster schedule, sensor and checks -------------------------------------------------------------

def nightly_cron() -> str:
    from dagster._utils.schedules import is_valid_cron_string

    raw = _raw("ANALYTICS_NIGHTLY_CRON")
    if raw is None:
        return "30 2 * * *"
    if not is_valid_cron_string(raw):
        raise _bad("ANALYTICS_NIGHTLY_CRON", raw, "a cron schedule such as '30 2 * * *'")
    return raw


def schedule_timezone() -> str:
    raw = _raw("ANALYTICS_SCHEDULE_TIMEZONE")
    if raw is None:
        return "UTC"
    try:
        zoneinfo.ZoneInfo(raw)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):  # OSError: a folder (`Europe`), a name too long
        raise _bad("ANALYTICS_SCHEDULE_TIMEZONE", raw, "an IANA time zone such as UTC or Europe/Berlin") from None
    return raw


def sensor_interval_seconds() -> int:
    return _int("ANALYTICS_SENSOR_INTERVAL", 300, 1)


def sensor_settle_seconds() -> float:
    return _float("ANALYTICS_SENSOR_SETTLE_SECONDS", 60.0, 0.0)


def sensor_max_runs() -> int:
    return _int("ANALYTICS_SENSOR_MAX_RUNS", 31, 1)


DEFAULT_MAX_REJECTED_SHARE = 0.02
DEFAULT_FRESHNESS_DAYS = 2


def max_rejected_share() -> float:
    return _float("ANALYTICS_MAX_REJECTED_SHARE", DEFAULT_MAX_REJECTED_SHARE, 0.0, 1.0)


def freshness_days() -> int:
    return _int("ANALYTICS_FRESHNESS_DAYS", DEFAULT_FRESHNESS_DAYS, 0)


def check_dagster_settings() -> None:
    """Every setting of the schedule, the sensor and the asset checks, checked with the refresh's
    (check_refresh_settings), where the definitions load and before a CLI refresh loads anything:
    not first when a check or the sensor runs."""
    nightly_cron()
    schedule_timezone()
    sensor_interval_seconds()
    sensor_settle_seconds()
    sensor_max_runs()
    max_rejected_share()
    freshness_days()
