"""Assets: the export load (daily partitions), the dbt models, and the published serving file."""


import datetime as dt
import json
import time
from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from ..build import progress
from ..build.build_file import build_connection, prepare_build_file, refresh_lock
from ..build.dbt_project import dbt_project, refresh_target_path
from ..build.dbt_results import DbtBuildError, NodeFailures
from ..build.refresh_state import (
    clear_pending,
    engine_changed,
    ensure_raw_tables,
    full_refresh_owed,
    mark_full_refresh_owed,
    models_missing,
    seeds_changed,
    seeds_fingerprint,
)
from ..build.spark_job import (
    clear_spark_pending_users,
    days_behind,
    mirror_days,
    run_spark_load,
    spark_loaded_days,
    spark_user_agents_stale,
)
from ..build.spark_models import check_spark_runnable, import_spark_tables
from ..build.spark_session import check_spark_dir
from ..errors import LoadError, UserError
from ..load.exports import day_folder, days_with_folders, linked_export_names
from ..load.raw import LoadStats, load_export_day, loaded_export_days
from ..publish.publish import publish
from ..settings import analytics_engine, check_dbt_settings, dbt_tests, dbt_threads_full, spark_dir_for, verbose
from .partitions import export_day_partitions
from .resources import WarehouseResource

RAW_TABLES = ["events", "rejected_lines", "export_files", "export_days", "pending_users", "user_agents"]
RAW_KEYS = [AssetKey(["raw", t]) for t in RAW_TABLES]


def _load_days(warehouse: WarehouseResource, days: list[dt.date], *, full: bool) -> Iterator[LoadStats]:
    """Loads the export days one after the other, with the engine's loader (docs/spark.md); yields
    each day's counts. On Spark the loaded days' raw rows are then copied into the build file, whose
    raw tables every reader and check reads on both engines."""
    try:
        if analytics_engine() != "spark":
            if full:
                # A full rebuild follows and recomputes every user: the loader need not find which
                # users the days change. Owed before the first day is loaded, so that a run cut
                # short anywhere after it still rebuilds every user on the next refresh.
                mark_full_refresh_owed(prepare_build_file(warehouse.warehouse))
            with build_connection(warehouse.warehouse) as conn:
                for day in days:
                    yield load_export_day(conn, warehouse.exports, day, mark_pending=not full)
            return
        check_spark_runnable()
        spark_dir = check_spark_dir(spark_dir_for(warehouse.warehouse))
        build = prepare_build_file(warehouse.warehouse)
        # Spark's raw tables brought level with the build file's first, in the same Spark job: the
        # export days whose rows differ (loaded by the DuckDB loader before a switch of engine, or a
        # Spark load cut short before its copy into the build file) are loaded again from their files.
        behind = [d for d in days_behind(_loaded_days(build), spark_dir) if d not in days]
        if behind:
            progress.report(f"{len(behind)} export day(s) loaded on Spark again, to match the build file's raw")
        loaded = []
        progress.report("loading on Spark ...")
        try:
            for stats in run_spark_load(warehouse.exports, spark_dir, [*behind, *days]):
                loaded.append(stats.export_date)
                if stats.export_date in days:
                    yield stats
        finally:
            # the days loaded, also when a later one failed: the build file's raw stays Spark's
            mirror_days(build, spark_dir, loaded)
    except LoadError as exc:
        raise RuntimeError(str(exc)) from exc


def _loaded_days(build) -> dict[dt.date, str]:
    """The build file's raw.export_days: export day -> fingerprint of its files when loaded."""
    import duckdb

    conn = duckdb.connect(str(build), read_only=True)
    try:
        return loaded_export_days(conn)
    finally:
        conn.close()


def _days_with_folders(context: AssetExecutionContext, warehouse: WarehouseResource,
                       days: list[dt.date]) -> list[dt.date]:
    """A range of days (a backfill) loads the days that have a folder and names the others in the
    run's log, as `refresh --from/--to` does (load/exports.days_with_folders). One day asked for
    alone fails the run naming it (the loader's error)."""
    if len(days) < 2:
        return days
    try:
        found, gaps = days_with_folders(warehouse.exports, days)
    except LoadError as exc:
        raise RuntimeError(str(exc)) from exc
    if gaps:
        context.log.warning(f"no folder for {len(gaps)} export day(s) of the range, not loaded: "
                            f"{', '.join(d.isoformat() for d in gaps)}")
    return found


class LoadConfig(Config):
    # the run rebuilds every model from scratch after the load (`refresh --full`)
    full_refresh: bool = False


@multi_asset(
    name="raw_exports",
    specs=[
        AssetSpec(key, group_name="raw", kinds={"duckdb"},
                  description=f"raw.{key.path[-1]}, written by the daily export load")
        for key in RAW_KEYS
    ],
    partitions_def=export_day_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def raw_exports(context: AssetExecutionContext, warehouse: WarehouseResource,
                config: LoadConfig) -> Iterator[MaterializeResult]:
    """Loads each export day of the run into the raw schema, replacing what an earlier load of it brought."""
    days = _days_with_folders(context, warehouse, [dt.date.fromisoformat(k) for k in context.partition_keys])
    totals = {"lines_read": 0, "events_valid": 0, "duplicates": 0, "lines_rejected": 0}
    rejects: dict[str, int] = {}
    damaged: list[str] = []
    started = time.perf_counter()
    with refresh_lock(warehouse.warehouse):
        for i, stats in enumerate(_load_days(warehouse, days, full=config.full_refresh), start=1):
            day = stats.export_date
            for k in totals:
                totals[k] += getattr(stats, k)
            for reason, n in stats.rejects_by_reason.items():
                rejects[reason] = rejects.get(reason, 0) + n
            damaged += [f"{day}: {d}" for d in stats.damaged_files]
            elapsed = time.perf_counter() - started
            rate = totals["lines_read"] / elapsed if elapsed > 0 else 0.0
            message = (f"loaded export day {day} ({i}/{len(days)}): {stats.lines_read} lines, "
                       f"{stats.lines_rejected} rejected, {stats.duplicates} duplicates; {rate:,.0f} lines/s")
            context.log.info(message)
            progress.report(message)
            linked = linked_export_names(day_folder(warehouse.exports, day))
            if linked:
                warning = (f"export day {day}: not reading {len(linked)} symbolic link(s) named like an export "
                           f"file (links are not read; copy the file in): {', '.join(linked)}")
                context.log.warning(warning)
                progress.report(warning)
    elapsed = time.perf_counter() - started
    progress.report(f"load done in {elapsed:.1f}s")
    metadata = {
        "export_days": MetadataValue.json([d.isoformat() for d in days]),
        "lines_read": totals["lines_read"],
        "events_loaded": totals["events_valid"] - totals["duplicates"],
        "duplicates": totals["duplicates"],
        "lines_rejected": totals["lines_rejected"],
        "rejects_by_reason": MetadataValue.json(rejects),
        "damaged_files": MetadataValue.json(damaged),
        "run_seconds": round(elapsed, 3),
        "lines_per_second": round(totals["lines_read"] / elapsed, 1) if elapsed > 0 else 0.0,
    }
    for key in RAW_KEYS:
        yield MaterializeResult(asset_key=key, metadata=metadata if key.path[-1] == "events" else None)


# not_null_columns: the not_null checks of a model grouped in one node (tests/generic/not_null_columns.sql)
ROUTINE_GENERIC_TESTS = ("not_null_columns", "not_null", "accepted_values", "relationships")
# A warning that lists orphan feedback for review; data_quality_daily.orphan_feedback counts the
# same on every refresh, and the test reads the whole history (it cannot be scoped by user).
REVIEW_TESTS = ("assert_feedback_rates_known_answers",)


class DbtBuildConfig(Config):
    full_refresh: bool = False


class LayeredTranslator(DagsterDbtTranslator):
    """Asset keys and groups follow the warehouse schemas: raw (seeds), staging, intermediate, marts."""

    def get_asset_key(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # The routine column tests and the review tests are not Dagster asset checks: every run
        # plans each check, run or not, and an incremental refresh does not run these (Dagster then
        # warned of a missing output and showed the check as skipped, every run). They still run
        # in a full rebuild (a failure fails dbt build, so the run) and show as observations; the
        # KPI and uniqueness tests stay checks.
        node = manifest["nodes"].get(unique_id, {})
        if (node.get("test_metadata") or {}).get("name") in ROUTINE_GENERIC_TESTS or node.get("name") in REVIEW_TESTS:
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=export_day_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=LayeredTranslator(),
)
def warehouse_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource,
                         warehouse: WarehouseResource, config: DbtBuildConfig):
    """`dbt build` on the build file: incremental models recompute the users in raw.pending_users.

    With ANALYTICS_ENGINE=spark (docs/spark.md) the same build runs on Spark (`--target spark`): raw
    was loaded by the Spark loader (the raw asset), and Spark's tables are copied into the build file
    after, so that publishing and every reader stay the same."""
    check_dbt_settings()  # profiles.yml hands them to dbt, which reports a bad one late and obscurely
    _check_the_whole_build(context)
    engine = analytics_engine()
    if engine == "spark":
        check_spark_runnable()
    with refresh_lock(warehouse.warehouse):
        build = prepare_build_file(warehouse.warehouse)
        spark_dir = spark_dir_for(warehouse.warehouse)
        if engine == "spark":
            spark_dir = check_spark_dir(spark_dir)
        # A full rebuild that was killed is owed until one completes; an edited seed (a time
        # zone, a timeout) changes every user's chats, so it needs one too.
        seeds = seeds_fingerprint()
        reseeded = not config.full_refresh and seeds_changed(build, seeds)
        if reseeded:
            progress.report("seeds, the user-agent parser or the models' revision changed since the last build: "
                            "rebuilding every model")
        # The other engine's last build cleared pending users this engine's tables never saw; a
        # new Spark folder has no tables (nor raw tables registered) at all.
        switched = engine_changed(build, engine)
        if switched and not config.full_refresh:
            progress.report(f"the models were last built by another engine than {engine}: rebuilding every model")
        new_spark = engine == "spark" and not (spark_dir / "warehouse" / "marts.db").is_dir()  # no model built here
        full = config.full_refresh or reseeded or switched or new_spark or full_refresh_owed(build)
        if not full and engine == "duckdb":
            # a model new to this warehouse (an upgrade that did not raise MODELS_REVISION) would be
            # built from the recomputed users alone (Spark keeps its models in a folder of its own)
            missing = models_missing(build, [(key.path[0], key.path[-1]) for key in warehouse_dbt_models.keys
                                             if key.path[0] in ("intermediate", "marts")])
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
            _catch_up_spark_raw(warehouse, build, spark_dir)
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
        # dbt.log in the run's target folder: node results and errors; every query's SQL and event
        # (debug) only with ANALYTICS_VERBOSE, since writing those took a good share of the run's CPU
        args += ["--log-level-file", "debug" if verbose() else "info"]
        if engine == "duckdb" and not verbose():
            # run_results.json and manifest.json: nothing reads them (a failure is named from dbt's
            # events, dbt_results.py), and dbt spent a good share of its fixed cost writing the
            # manifest twice per build. Spark's tables are imported by the manifest's relations.
            args.append("--no-write-json")
        progress.report(f"dbt build{' --full-refresh' if full else ''}{' on Spark' * (engine == 'spark')} ...")
        started = time.perf_counter()
        # dbt's own events, each shown as progress, then turned into Dagster's as `.stream()` does
        failures = NodeFailures()
        with progress.dbt_build() as build_progress:
            invocation = dbt.cli(args, context=context, target_path=target_path)
            try:
                for event in invocation.stream_raw_events():
                    failures.on_event(event.raw_event)
                    build_progress.on_event(event.raw_event)
                    yield from event.to_default_asset_events(
                        manifest=invocation.manifest, dagster_dbt_translator=invocation.dagster_dbt_translator,
                        context=context, target_path=invocation.target_path, project=invocation.project)
            except DagsterDbtCliRuntimeError as exc:
                # dagster-dbt's error says that the dbt process failed; dbt's events say on what
                if failures.summary() is None:
                    raise
                raise DbtBuildError(failures.summary()) from exc
        progress.report(f"dbt build done in {time.perf_counter() - started:.1f}s")
        if engine == "spark":
            imported = import_spark_tables(build, spark_dir, target_path / "manifest.json")
            progress.report(f"Spark's tables copied into the build file in {imported['seconds']:.1f}s")
            clear_spark_pending_users(spark_dir)
        clear_pending(build, seeds, engine)


def _check_the_whole_build(context: AssetExecutionContext) -> None:
    """A run builds every model or none: before dbt starts, one line otherwise. The models recompute
    the users pending since the last build, and the build then clears them: a run that built some
    models only (Dagster's UI lets one select a single mart) left every other model out of step with
    raw, with nothing pending to mend it, and the next refreshes' KPI tests failing."""
    if not context.selected_asset_keys:
        # "Execute checks" in the UI: dbt would run the tests alone, then clear the pending users
        raise UserError("this run executes the dbt models' checks without building the models: their checks "
                        "run with every build, after it recomputes the users pending since the last one; launch "
                        "the job refresh or rebuild_models instead")
    left_out = sorted(key.to_user_string() for key in set(warehouse_dbt_models.keys) - context.selected_asset_keys)
    if left_out:
        raise UserError(f"the dbt models are built together or not at all: this run leaves out {len(left_out)} of "
                        f"them ({', '.join(left_out[:3])}{' ...' if len(left_out) > 3 else ''}), which would no "
                        "longer follow raw; select them all (the groups seeds, staging, intermediate and marts, "
                        "as the jobs refresh and rebuild_models do) or none")


def _catch_up_spark_raw(warehouse: WarehouseResource, build, spark_dir) -> None:
    """Before a Spark build, Spark's raw tables level with the build file's (see _load_days): for a
    run without a load (`refresh --full` alone, the rebuild_models job); after a load, nothing is left."""
    behind = days_behind(_loaded_days(build), spark_dir)
    if not behind and spark_user_agents_stale(spark_dir):
        # the day's load parses Spark's user agents again (the models are rebuilt in full after)
        behind = [max(spark_loaded_days(spark_dir))]
    if behind:
        progress.report(f"{len(behind)} export day(s) loaded on Spark again, to match the build file's raw")
        # `full` is the DuckDB loader's (pending users left out); the Spark loader has no such mode
        for _ in _load_days(warehouse, behind, full=False):
            pass


@asset(
    key=AssetKey(["serving", "warehouse"]),
    deps=list(warehouse_dbt_models.keys),
    partitions_def=export_day_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="serving",
    kinds={"duckdb"},
)
def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """The file readers open (--warehouse): a finished copy of the build file, swapped in atomically."""
    with refresh_lock(warehouse.warehouse):
        done = publish(warehouse.warehouse)
    size = warehouse.warehouse.stat().st_size
    how = "changed blocks of the spare" if done.reused_spare else "whole copy"
    progress.report(f"published {warehouse.warehouse} ({size / 1e6:,.1f} MB; {how}, "
                    f"{done.bytes_written / 1e6:,.1f} MB written) in {done.seconds:.2f}s")
    return MaterializeResult(metadata={
        "path": str(warehouse.warehouse),
        "size_bytes": size,
        "publish_seconds": round(done.seconds, 3),
        "publish_bytes_written": done.bytes_written,
        "publish_reused_spare": done.reused_spare,
    })
