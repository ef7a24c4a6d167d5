"""A run's load: the export days into the build file's raw tables, with the engine's loader.

On DuckDB the loader writes the build file itself (load/raw.py). On Spark (docs/spark.md) the Spark
loader writes Spark's raw tables, in a Spark job of its own (spark_job.py), and the days it loaded
are then copied into the build file, whose raw tables every reader and check reads on both engines.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import listed
from ..load.raw import LoadStats, load_export_day, loaded_export_days
from ..settings import analytics_engine, spark_dir_for
from . import progress
from .build_file import build_connection, prepare_build_file
from .refresh_state import mark_full_refresh_owed
from .spark_job import days_behind, mirror_days, run_spark_load, spark_loaded_days, spark_user_agents_stale
from .spark_models import check_spark_runnable
from .spark_session import check_spark_dir


def load_days(warehouse: Path, exports: Path, days: list[dt.date], *, full: bool) -> Iterator[LoadStats]:
    """Loads the export days one after the other; yields each day's counts. `full`: a full rebuild
    follows (on DuckDB the loader then need not find the users the days change). A day that cannot
    be loaded at all stops the load with a LoadError."""
    if analytics_engine() != "spark":
        if full:
            # A full rebuild follows and recomputes every user: the loader need not find which
            # users the days change. Owed before the first day is loaded, so that a run cut
            # short anywhere after it still rebuilds every user on the next refresh.
            mark_full_refresh_owed(prepare_build_file(warehouse))
        with build_connection(warehouse) as conn:
            for day in days:
                yield load_export_day(conn, exports, day, mark_pending=not full, on_file_read=files_read_reporter(day))
        return
    check_spark_runnable()
    spark_dir = check_spark_dir(spark_dir_for(warehouse))
    build = prepare_build_file(warehouse)
    # Spark's raw tables brought level with the build file's first, in the same Spark job: the
    # export days whose rows differ (loaded by the DuckDB loader before a switch of engine, or a
    # Spark load cut short before its copy into the build file) are loaded again from their files.
    behind = [d for d in days_behind(loaded_days(build), spark_dir) if d not in days]
    if behind:
        progress.report(_loaded_again(behind))
    loaded = []
    progress.report("loading on Spark ...")
    try:
        for stats in run_spark_load(exports, spark_dir, [*behind, *days]):
            loaded.append(stats.export_date)
            if stats.export_date in days:
                yield stats
            else:
                _warn_loaded_again(stats)
    finally:
        # the days loaded, also when a later one failed: the build file's raw stays Spark's
        mirror_days(build, spark_dir, loaded)


def loaded_days(build: Path) -> dict[dt.date, str]:
    """The build file's raw.export_days: export day -> fingerprint of its files when loaded."""
    import duckdb

    conn = duckdb.connect(str(build), read_only=True)
    try:
        return loaded_export_days(conn)
    finally:
        conn.close()


def catch_up_spark_raw(warehouse: Path, exports: Path, build: Path, spark_dir: Path) -> None:
    """Before a Spark build, Spark's raw tables level with the build file's (see load_days): for a
    run without a load (`refresh --full` alone, the rebuild_models job); after a load, nothing is left."""
    behind = days_behind(loaded_days(build), spark_dir)
    if not behind and spark_user_agents_stale(spark_dir):
        # the day's load parses Spark's user agents again (the models are rebuilt in full after)
        behind = [max(spark_loaded_days(spark_dir))]
    if behind:
        progress.report(_loaded_again(behind))
        # `full` is the DuckDB loader's (pending users left out); the Spark loader has no such mode
        for stats in load_days(warehouse, exports, behind, full=False):
            _warn_loaded_again(stats)


def _warn_loaded_again(stats: LoadStats) -> None:
    """What the run says of a day Spark loaded again to match the build file when that load was not
    the whole day (the run's own days are told by the raw_exports asset). Spark's rows of the day are
    then copied into the build file as they are, so that its raw is what the Spark build reads:
    Spark's earlier load of the day, or nothing (a day the DuckDB loader loaded before a switch of
    engine), until the next refresh loads the day again (its recorded fingerprint, if any, is not its
    folder's)."""
    day = stats.export_date.isoformat()
    if stats.not_loaded_because:
        progress.report(f"export day {day}, loaded on Spark again, not loaded: {stats.not_loaded_because} (a delivery "
                        "under way?); this run builds with Spark's earlier load of the day, or without the day if "
                        "Spark has none, and the next refresh loads it")
    elif stats.changed_while_read:
        progress.report(f"export day {day}, loaded on Spark again, changed while it was read (a delivery under "
                        "way?): it is loaded as read, and loads again at the next refresh")


def files_read_reporter(day: dt.date, every_seconds: float = 10.0,
                        clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """A day's progress while its files are read: how many of them, at most every `every_seconds`. A
    day is read file by file, and a day of thousands of small files reads for minutes with nothing
    else to show (the next line comes when the day is loaded)."""
    last = clock()

    def report(done: int, total: int) -> None:
        nonlocal last
        if done < total and clock() - last >= every_seconds:
            progress.report(f"export day {day}: {done:,} of {total:,} files read")
            last = clock()

    return report


def _loaded_again(days: list[dt.date]) -> str:
    """The progress line of the days Spark loads again, naming them (the first few)."""
    return (f"{len(days)} export day(s) loaded on Spark again, to match the build file's raw: "
            f"{listed([d.isoformat() for d in sorted(days)])}")
