"""The Spark loader as a refresh runs it (ANALYTICS_ENGINE=spark, docs/spark.md).

`run_spark_load` runs the export days' load (load/spark_load.py `load_export_day_spark`) as a Spark job
in a process of its own (`python -m orchestration.build.spark_job`), then `mirror_days` copies the
loaded days' rows of Spark's raw tables into the build file, so that everything that reads raw
there (the Dagster checks, status, report, dashboard, the sensor, publish) stays as it is.

Why not in the refresh's own process: the loader's Spark and dbt's (profiles.yml's `spark` target,
started inside dbt's process) share one Derby metastore, which one JVM at a time can open, and a
JVM started inside the refresh's own process would live, with the metastore open, until the
refresh ends. Both take their settings from the profile (spark_session.py), so they see the
same tables. When the CLI has made dbt's process ready ahead (warm_dbt.py), the job hands
the load over to that process, whose Spark then serves the run's build too: one Spark start per
run. Otherwise (a run launched from Dagster's UI) the job loads in its own process, and dbt
starts a second Spark (docs/spark.md).

Here in `build`, not in `load`, because the job is how the build's processes run the loader (the
Spark and the waiting dbt process are the build's): `load` imports nothing of `build`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from ..errors import LoadError
from ..load.exports import check_export_day
from ..load.raw import LoadStats
from ..settings import iso_day
from .child_process import end_with_parent, interruptible, stdout_kept_from_children
from .warm_dbt import SPARK_LOAD, hand_over

_DAY_DONE = "loaded "  # a line of the job's output: "loaded <LoadStats as JSON>"
_FAILED = "failed "  # "failed <one-line error>"
_APP_NAME = "assistant-analytics"


def _table_folder(spark_dir: Path, table: str) -> Path:
    from .spark_models import table_folder

    return table_folder(spark_dir, "raw", table)


def run_spark_load(exports: Path, spark_dir: Path, days: list[dt.date]) -> Iterator[LoadStats]:
    """Loads the days on Spark, one after the other, in a Spark job of its own process; yields each
    day's counts as soon as it is loaded. A load error stops the job and raises LoadError."""
    from ..settings import PROJECT_ROOT

    args = json.dumps({"exports": str(exports.resolve()), "spark_dir": str(spark_dir),
                       "days": [d.isoformat() for d in days]})
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "orchestration.build.spark_job", args], cwd=PROJECT_ROOT,
                                stdout=subprocess.PIPE, stderr=log, text=True)
        failed = None
        try:
            for line in proc.stdout:
                if line.startswith(_DAY_DONE):
                    fields = json.loads(line.removeprefix(_DAY_DONE))
                    fields["export_date"] = dt.date.fromisoformat(fields["export_date"])
                    yield LoadStats(**fields)
                elif line.startswith(_FAILED):
                    failed = line.removeprefix(_FAILED).strip()
        except BaseException:  # the run failed or stopped reading: the job stops with it
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if failed:
            raise LoadError(failed)
        if rc != 0:
            raise _job_failed(rc, log)


_OUTPUT_READ_BYTES = 1 << 20  # of a failed job's output, the end read for why


def _job_failed(rc: int, log: BinaryIO) -> RuntimeError:
    """The error of a job that ended with exit status `rc`: its first line says why, from the job's
    output (`log`), which follows it. Why is looked for in the output's last megabyte, the whole of
    it as a rule, not in the end shown after it: a Java exception's line comes before its stack,
    which can run to many thousands of characters."""
    log.seek(max(0, log.seek(0, os.SEEK_END) - _OUTPUT_READ_BYTES))
    output = log.read().decode("utf-8", "replace")
    return RuntimeError(f"the Spark load failed (exit {rc}): {_reason(output)}\n{output[-4000:]}")


# Lines of a failed Spark start or job that say why (Spark's launcher, the JVM, Derby, Python): the
# refresh shows one line, so the last such line of the job's output goes on it.
_REASON_LINE = re.compile(r"error|exception|no such file|not found|cannot|could not|failed|denied", re.IGNORECASE)


def _reason(output: str) -> str:
    # py4j puts the Java exception on a line of its own that starts with ": "
    lines = [line.strip().removeprefix(": ") for line in output.splitlines() if line.strip()]
    telling = [line for line in lines if _REASON_LINE.search(line) and not line.startswith(("at ", "File \""))]
    chosen = (telling or lines or ["no output"])[-1]
    if "JAVA_GATEWAY_EXITED" in chosen:
        # the JVM ended before Spark started: why is what it (or Spark's launcher) printed first
        started = lines.index("Traceback (most recent call last):") if "Traceback (most recent call last):" in lines \
            else len(lines)
        before = [line for line in lines[:started] if line in telling]
        chosen = before[-1] if before else chosen
    return chosen if len(chosen) <= 300 else chosen[:297] + "..."


def mirror_days(build: Path, spark_dir: Path, days: list[dt.date]) -> None:
    """The days' rows of Spark's raw tables, and the whole of its raw.pending_users and
    raw.user_agents, copied over the build file's (one transaction; DuckDB reads Spark's Parquet
    files, no Spark process)."""
    import duckdb

    from ..load.raw import ensure_raw_schema, transaction
    from ..load.spark_load import DAY_TABLES
    from .spark_models import spark_files

    conn = duckdb.connect(str(build))
    try:
        ensure_raw_schema(conn)
        with transaction(conn):
            for table in (*DAY_TABLES, "pending_users", "user_agents"):
                columns = [r[0] for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
                    "order by ordinal_position", [table]).fetchall()]
                names = ", ".join(f'"{c}"' for c in columns)
                if table in DAY_TABLES:
                    # a day's files hold every column but export_date, their folder's name
                    select = ", ".join("$day::date" if c == "export_date" else f'"{c}"' for c in columns)
                    for day in days:
                        conn.execute(f"delete from raw.{table} where export_date = ?", [day])
                        folder = _table_folder(spark_dir, table) / f"export_date={day.isoformat()}"
                        files = sorted(str(p) for p in folder.glob("*.parquet"))
                        if files:
                            conn.execute(f"insert into raw.{table} ({names}) select {select} "
                                         f"from {spark_files('$files')}", {"day": day, "files": files})
                else:
                    conn.execute(f"delete from raw.{table}")
                    files = sorted(str(p) for p in _table_folder(spark_dir, table).glob("*.parquet"))
                    if files:
                        conn.execute(f"insert into raw.{table} ({names}) select {names} from {spark_files()}", [files])
    finally:
        conn.close()


# A day's folder in Spark's raw tables: the days Spark's loader writes (a folder of another name, a
# copy's `.bak`, is not one)
_DAY_FOLDER = "export_date=[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"


def spark_loaded_days(spark_dir: Path) -> dict[dt.date, str]:
    """Spark's raw.export_days (export day: fingerprint), read from its files (no Spark process)."""
    import duckdb

    from .spark_models import spark_files

    folder = _table_folder(spark_dir, "export_days")
    files = sorted(str(p) for p in folder.glob(f"{_DAY_FOLDER}/*.parquet"))
    if not files:
        return {}
    conn = duckdb.connect()
    try:
        rows = conn.execute(f"select filename, fingerprint from {spark_files()}", [files]).fetchall()
    finally:
        conn.close()
    # the day is its folder's name (export_date=YYYY-MM-DD), Spark's partition column
    return {dt.date.fromisoformat(Path(name).parent.name.removeprefix("export_date=")): fingerprint
            for name, fingerprint in rows}


def days_behind(build_days: dict[dt.date, str], spark_dir: Path) -> list[dt.date]:
    """The export days whose rows differ between the build file's raw tables and Spark's (a day the
    other engine loaded, a Spark load cut short before its copy into the build file), and the days
    with rows in Spark's raw tables but no raw.export_days row there (a Spark load cut short among
    its writes, which removes the day's row first: spark_load.py): loaded again on Spark before a
    Spark build."""
    on_spark = spark_loaded_days(spark_dir)
    unmarked = _days_with_rows(spark_dir) - set(on_spark)
    return sorted(d for d in set(build_days) | set(on_spark) | unmarked
                  if d in unmarked or build_days.get(d) != on_spark.get(d))


def _days_with_rows(spark_dir: Path) -> set[dt.date]:
    """The days with a folder in any of Spark's raw tables replaced per day (no Spark process)."""
    from ..load.spark_load import DAY_TABLES

    days = {iso_day(folder.name.removeprefix("export_date="))
            for table in DAY_TABLES for folder in _table_folder(spark_dir, table).glob(_DAY_FOLDER) if folder.is_dir()}
    return days - {None}


def spark_user_agents_stale(spark_dir: Path) -> bool:
    """Spark has loaded days, and its raw.user_agents is missing or holds strings another version of
    the parser parsed (read from its files, no Spark process). A Spark load parses them again
    (spark_load._ensure_user_agents); a build with no day to load (`refresh --full` alone, after an
    upgrade) reloads one for that, or it would rebuild every model from the old parser's families."""
    import duckdb

    from ..load.user_agents import parser_version
    from .spark_models import spark_files

    if not spark_loaded_days(spark_dir):
        return False
    folder = _table_folder(spark_dir, "user_agents")
    if not folder.is_dir():
        return True
    files = sorted(str(p) for p in folder.glob("*.parquet"))
    if not files:
        return False
    conn = duckdb.connect()
    try:
        return bool(conn.execute(f"select count(*) from {spark_files()} where parsed_by <> ?",
                                 [files, parser_version()]).fetchone()[0])
    finally:
        conn.close()


def clear_spark_pending_users(spark_dir: Path) -> None:
    """After a completed Spark build: Spark's raw.pending_users emptied (its files removed; the
    table, its folder and its columns in the catalog stay)."""
    folder = _table_folder(spark_dir, "pending_users")
    for path in folder.glob("*"):
        if path.is_file() and not path.name.startswith("_"):
            path.unlink()


def _run_job(args: dict, out: TextIO, *, keep_spark: bool) -> None:
    """The job: the days loaded one after the other, a line on `out` for each (or for the load
    error that stopped it). The loads run in a session of their own (its settings, its views), so
    that a Spark kept for dbt's build is as dbt would have started it."""
    from ..load.spark_load import load_export_day_spark
    from .spark_session import end_spark_jvm, start_spark

    def say(line: str) -> None:
        out.write(line + "\n")

    exports, spark = Path(args["exports"]), None
    try:
        for day in map(dt.date.fromisoformat, args["days"]):
            if spark is None:
                # a first day without its folder stops the job before Spark starts (the load checks
                # every day's folder itself, with the same error)
                check_export_day(exports, day)
                spark = start_spark(Path(args["spark_dir"]), _APP_NAME)
                spark.sparkContext.setLogLevel("ERROR")
                loads = spark.newSession()
            stats = load_export_day_spark(loads, exports, day)
            fields = dataclasses.asdict(stats)
            fields["export_date"] = stats.export_date.isoformat()
            say(_DAY_DONE + json.dumps(fields))
    except LoadError as exc:
        say(_FAILED + str(exc).replace("\n", " "))
    finally:
        if spark is not None and not keep_spark:
            end_spark_jvm()


def load_in_this_process(argv: list[str]) -> None:
    """In the dbt process made ready ahead (build/dbt_child.py), with the job's streams: the job,
    its Spark kept for the build."""
    out = stdout_kept_from_children()
    try:
        _run_job(json.loads(argv[0]), out, keep_spark=True)
    finally:
        out.close()


def main() -> None:
    end_with_parent()
    interruptible()
    status = hand_over(sys.argv[1:], kind=SPARK_LOAD)  # to the dbt process made ready ahead, if any
    if status is not None:
        sys.exit(status)
    _run_job(json.loads(sys.argv[1]), stdout_kept_from_children(), keep_spark=False)


if __name__ == "__main__":
    main()
