"""A run's `dbt build`: whether it rebuilds every model or recomputes the pending users, its
command line, and what the build file records once it has finished."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..settings import analytics_engine, dbt_tests, dbt_threads_full, spark_dir_for, verbose
from . import progress
from .build_file import prepare_build_file
from .dbt_project import refresh_target_path
from .loading import catch_up_spark_raw
from .refresh_state import (
    clear_pending,
    engine_changed,
    ensure_raw_tables,
    full_refresh_owed,
    mark_full_refresh_owed,
    models_missing,
    seeds_changed,
    seeds_fingerprint,
)
from .spark_job import clear_spark_pending_users
from .spark_models import check_spark_runnable, import_spark_tables
from .spark_session import check_spark_dir

# not_null_columns: the not_null checks of a model grouped in one node (tests/generic/not_null_columns.sql)
ROUTINE_GENERIC_TESTS = ("not_null_columns", "not_null", "accepted_values", "relationships")
# A warning that lists orphan feedback for review; data_quality_daily.orphan_feedback counts the
# same on every refresh, and the test reads the whole history (it cannot be scoped by user).
REVIEW_TESTS = ("assert_feedback_rates_known_answers",)


@dataclasses.dataclass(frozen=True)
class DbtBuildPlan:
    engine: str  # "duckdb" or "spark"
    build: Path  # the build file
    spark_dir: Path
    full: bool  # every model rebuilt from raw (--full-refresh)
    seeds: str  # the seeds' fingerprint the build is made with
    args: list[str]  # dbt's command line
    target_path: Path  # dbt's target folder for this warehouse and engine


def plan_dbt_build(warehouse: Path, exports: Path, *, full_refresh: bool,
                   models: list[tuple[str, str]]) -> DbtBuildPlan:
    """The build a run makes of the build file (under the refresh lock): a full rebuild when asked
    for, or when the build cannot be incremental (said as progress); `models`: every dbt model's
    (schema, name). Marks a full rebuild owed before it starts, and brings Spark's raw tables level
    with the build file's before a Spark build."""
    engine = analytics_engine()
    if engine == "spark":
        check_spark_runnable()
    build = prepare_build_file(warehouse, may_drop_loads=False)
    spark_dir = spark_dir_for(warehouse)
    if engine == "spark":
        spark_dir = check_spark_dir(spark_dir)
    # A full rebuild that was killed is owed until one completes; an edited seed (a time
    # zone, a timeout) changes every user's chats, so it needs one too.
    seeds = seeds_fingerprint()
    reseeded = not full_refresh and seeds_changed(build, seeds)
    if reseeded:
        progress.report("seeds, the user-agent parser or the models' revision changed since the last build: "
                        "rebuilding every model")
    # The other engine's last build cleared pending users this engine's tables never saw; a
    # new Spark folder has no tables (nor raw tables registered) at all.
    switched = engine_changed(build, engine)
    if switched and not full_refresh:
        progress.report(f"the models were last built by another engine than {engine}: rebuilding every model")
    new_spark = engine == "spark" and not (spark_dir / "warehouse" / "marts.db").is_dir()  # no model built here
    owed = not (full_refresh or reseeded or switched) and full_refresh_owed(build)
    if owed:
        progress.report("a full rebuild was started and did not finish: rebuilding every model")
    full = full_refresh or reseeded or switched or new_spark or owed
    if not full and engine == "duckdb":
        # a model new to this warehouse (an upgrade that did not raise MODELS_REVISION) would be
        # built from the recomputed users alone (Spark keeps its models in a folder of its own)
        missing = models_missing(build, [(schema, name) for schema, name in models
                                         if schema in ("intermediate", "marts")])
        if missing:
            progress.report(f"models new to this warehouse ({', '.join(missing[:3])}"
                            f"{' ...' if len(missing) > 3 else ''}): rebuilding every model")
            full = True
    if full:
        mark_full_refresh_owed(build)
    if engine == "duckdb":
        ensure_raw_tables(build)
    # profiles.yml reads the build file from this var (a by-hand dbt run uses $ANALYTICS_WAREHOUSE).
    # Nothing else: what to recompute is in raw.pending_users, and vars that change from one
    # refresh to the next would make dbt parse the whole project again every time.
    args = ["build", "--vars", json.dumps({"build_file": str(build)})]
    target_path = refresh_target_path(build)
    excluded: list[str] = []
    if engine == "spark":
        target_path = refresh_target_path(build, engine)
        args = ["build", "--target", "spark", "--vars", json.dumps({"spark_dir": str(spark_dir)})]
        catch_up_spark_raw(warehouse, exports, build, spark_dir)
    if full:
        args.append("--full-refresh")
    if full and engine == "duckdb":
        # Every node of a full rebuild reads the whole history and DuckDB already spreads one
        # query over every core: two at once would only share (and overrun) one memory pool.
        # On Spark the profile's threads apply: a local Spark runs each query as one task, so two
        # queries share the cores, not a memory pool.
        args += ["--threads", str(dbt_threads_full())]
    if dbt_tests() != "all" and (not full or engine == "spark"):
        # The column checks (most of the tests) cost a fixed time each whatever the data size: an
        # incremental refresh runs the KPI (singular) and uniqueness tests, a full rebuild on
        # DuckDB runs them all. On Spark each check is a Spark job of its own (seconds on a
        # cluster), so every build runs only the KPI and uniqueness tests, unless
        # ANALYTICS_DBT_TESTS=all (docs/spark.md).
        excluded += [*(f"test_name:{t}" for t in ROUTINE_GENERIC_TESTS), *REVIEW_TESTS]
    if excluded:
        args += ["--exclude", " ".join(excluded)]
    # The models' unit tests (their .yml files) check rules on hand-made rows, not the data: the
    # test suite runs them (`dbt test --select test_type:unit`), a refresh does not.
    args += ["--exclude-resource-type", "unit_test"]
    # dbt.log in the run's target folder: node results and errors; every query's SQL and event
    # (debug) only with ANALYTICS_VERBOSE, since writing those took a good share of the run's CPU
    args += ["--log-level-file", "debug" if verbose() else "info"]
    if engine == "duckdb" and not verbose():
        # run_results.json and manifest.json: nothing reads them (a failure is named from dbt's
        # events, dbt_results.py), and dbt spent a good share of its fixed cost writing the
        # manifest twice per build. Spark's tables are imported by the manifest's relations.
        args.append("--no-write-json")
    return DbtBuildPlan(engine, build, spark_dir, full, seeds, args, target_path)


def finish_dbt_build(plan: DbtBuildPlan) -> None:
    """After dbt built every model: Spark's tables copied into the build file, and the pending users
    (and any full rebuild owed) cleared, with the seeds and engine the models were built with."""
    if plan.engine == "spark":
        imported = import_spark_tables(plan.build, plan.spark_dir, plan.target_path / "manifest.json")
        progress.report(f"Spark's tables copied into the build file in {imported['seconds']:.1f}s")
        clear_spark_pending_users(plan.spark_dir)
    clear_pending(plan.build, plan.seeds, plan.engine)
