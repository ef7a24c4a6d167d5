"""Assets: the export load (daily partitions), the dbt models, and the published serving file."""


import datetime as dt
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
from ..build.build_file import (
    build_file_error,
    damage_named,
    is_damage,
    published_with_newest_stamp,
    refresh_lock,
    stamp_for_publish,
)
from ..build.dbt_build import REVIEW_TESTS, ROUTINE_GENERIC_TESTS, finish_dbt_build, plan_dbt_build
from ..build.dbt_project import dbt_project
from ..build.dbt_results import DbtBuildError, NodeFailures
from ..build.loading import load_days
from ..build.seeds import check_seeds
from ..errors import LoadError, UnfinishedBuildError, UserError, listed
from ..load.exports import (
    check_warehouse_outside_day_folders,
    day_folder,
    days_with_folders,
    range_gap_notes,
    unread_export_names,
)
from ..load.raw import LoadStats
from ..publish.publish import publish
from ..settings import check_dbt_settings, check_warehouse_name
from .partitions import export_day_partitions
from .resources import WarehouseResource

RAW_TABLES = ["events", "rejected_lines", "export_files", "export_days", "pending_users", "user_agents"]
RAW_KEYS = [AssetKey(["raw", t]) for t in RAW_TABLES]


def _check_export_days_given(context: AssetExecutionContext) -> None:
    """A run of these assets is for export days (they are partitioned); launched without one (the
    Launchpad's default), Dagster failed it with "Cannot access partition_key for a non-partitioned
    run", and `rebuild_models` only once dbt had started. One line before anything starts."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise RuntimeError(
            f"run {context.run.job_name} for export days: launch it with a partition, an export day "
            "(any one for rebuild_models, which loads nothing), or a range of them (a backfill)")


def _loads(stats: Iterator[LoadStats]) -> Iterator[LoadStats]:
    """The loader's counts, a day that cannot be loaded at all failing the run with its one line."""
    try:
        yield from stats
    except LoadError as exc:
        raise RuntimeError(str(exc)) from exc


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
    for line in range_gap_notes(warehouse.exports, gaps):
        context.log.warning(line)
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
    # a run from Dagster: the CLI checked its own already
    check_warehouse_name(warehouse.warehouse)
    check_warehouse_outside_day_folders(warehouse.warehouse, warehouse.exports)
    _check_export_days_given(context)
    check_seeds()  # before the load: dbt's tests on the seeds fail only after it
    days = _days_with_folders(context, warehouse, [dt.date.fromisoformat(k) for k in context.partition_keys])
    totals = {"lines_read": 0, "events_valid": 0, "duplicates": 0, "lines_rejected": 0}
    rejects: dict[str, int] = {}
    damaged: list[str] = []
    not_loaded: list[str] = []
    started = time.perf_counter()
    # the load's progress in the run's log too: a wait for another refresh's lock, each day's
    # counts, and why the build file starts again
    with progress.also_to(context.log.info), refresh_lock(warehouse.warehouse):
        for i, stats in enumerate(_loads(load_days(warehouse.warehouse, warehouse.exports, days,
                                                      full=config.full_refresh)), start=1):
            day = stats.export_date
            for k in totals:
                totals[k] += getattr(stats, k)
            for reason, n in stats.rejects_by_reason.items():
                rejects[reason] = rejects.get(reason, 0) + n
            damaged += [f"{day}: {d}" for d in stats.damaged_files]
            not_loaded += [f"{day}: {stats.not_loaded_because}"] if stats.not_loaded_because else []
            elapsed = time.perf_counter() - started
            rate = totals["lines_read"] / elapsed if elapsed > 0 else 0.0
            warnings = []
            if stats.not_loaded_because:
                warnings.append(f"export day {day} ({i}/{len(days)}) not loaded: {stats.not_loaded_because} (a "
                                "delivery under way?); it keeps what it held, and loads at the next refresh or "
                                "sensor tick")
            else:
                progress.report(f"loaded export day {day} ({i}/{len(days)}): {stats.lines_read} lines, "
                                f"{stats.lines_rejected} rejected, {stats.duplicates} duplicates; {rate:,.0f} lines/s")
            linked, not_files = unread_export_names(day_folder(warehouse.exports, day))
            if linked:
                warnings.append(f"export day {day}: not reading {len(linked)} symbolic link(s) named like an export "
                                f"file (links are not read; copy the file in): {', '.join(linked)}")
            if not_files:
                warnings.append(f"export day {day}: not reading {len(not_files)} folder(s) or other entries named like "
                                f"an export file (only files are read; put their lines in files of the day's folder): "
                                f"{', '.join(not_files)}")
            if stats.damaged_files:
                # kept in raw.export_files and counted in data_quality_daily, but said here too: a
                # damaged file's lost lines are not in the day's counts above
                warnings.append(f"export day {day}: {len(stats.damaged_files)} file(s) damaged or not what their "
                                "name says, their readable lines loaded (raw.export_files.damage): "
                                f"{listed(stats.damaged_files, shown=3)}")
            if stats.changed_while_read:
                warnings.append(f"export day {day} changed while it was read (a delivery under way?): it is loaded "
                                "as read, and loads again at the next refresh or sensor tick")
            for warning in warnings:
                context.log.warning(warning)
                progress.report(warning, run_log=False)
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
        "days_not_loaded": MetadataValue.json(not_loaded),
        "run_seconds": round(elapsed, 3),
        "lines_per_second": round(totals["lines_read"] / elapsed, 1) if elapsed > 0 else 0.0,
    }
    for key in RAW_KEYS:
        yield MaterializeResult(asset_key=key, metadata=metadata if key.path[-1] == "events" else None)


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
    _check_the_dbt_run(context, warehouse)
    with warehouse.refresh_lock(context.log.info):
        try:
            plan = _planned_build(context, warehouse, full_refresh=config.full_refresh)
        except LoadError as exc:  # Spark's raw tables brought level by a load first
            raise RuntimeError(str(exc)) from exc
        full, engine = plan.full, plan.engine
        progress.report(f"dbt build{' --full-refresh' if full else ''}{' on Spark' * (engine == 'spark')} ...")
        started = time.perf_counter()
        # dbt's own events, each shown as progress, then turned into Dagster's as `.stream()` does
        failures = NodeFailures()
        with progress.dbt_build() as build_progress:
            invocation = dbt.cli(plan.args, context=context, target_path=plan.target_path)
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
                # a block of the build file that fails DuckDB's checksum: the damaged build file's line
                damage = next((what for what in failures.found.values() if is_damage(what)), None)
                if damage is not None and engine == "duckdb":
                    raise build_file_error(warehouse.build_file, damage, warehouse.warehouse) from None
                raise DbtBuildError(failures.summary()) from exc
        progress.report(f"dbt build done in {time.perf_counter() - started:.1f}s")
        finish_dbt_build(plan)


def _planned_build(context: AssetExecutionContext, warehouse: WarehouseResource, *, full_refresh: bool):
    """The run's dbt build (plan_dbt_build), its reasons for a full rebuild (an upgrade, an edited
    seed) in the run's log too, not only on a CLI refresh's terminal."""
    with progress.also_to(context.log.info):
        return plan_dbt_build(warehouse.warehouse, warehouse.exports, full_refresh=full_refresh,
                              models=[(key.path[0], key.path[-1]) for key in warehouse_dbt_models.keys])


def _check_the_dbt_run(context: AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """What the dbt step checks before anything starts, each a line of its own. A run of the checks
    alone is told first that it cannot run at all, not to add a partition it would then fail with."""
    check_dbt_settings()  # profiles.yml hands them to dbt, which reports a bad one late and obscurely
    check_warehouse_name(warehouse.warehouse)  # rebuild_models loads nothing first
    check_warehouse_outside_day_folders(warehouse.warehouse, warehouse.exports)
    _check_the_whole_build(context)
    _check_export_days_given(context)
    check_seeds()  # rebuild_models loads nothing first


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


@asset(
    key=AssetKey(["serving", "warehouse"]),
    deps=list(warehouse_dbt_models.keys),
    partitions_def=export_day_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="serving",
    kinds={"duckdb"},
    output_required=False,  # not when a later load left users pending: see below
)
def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
    """The file readers open (--warehouse): a finished copy of the build file, swapped in atomically."""
    with warehouse.refresh_lock(context.log.info):
        try:
            with damage_named(warehouse.warehouse):
                stamp_for_publish(warehouse.warehouse)
                done = publish(warehouse.warehouse)
                published_with_newest_stamp(warehouse.warehouse)
        except UnfinishedBuildError as exc:
            # Another run loaded days after this run's dbt build (runs from Dagster take the lock per
            # step: the sensor's and the schedule's, a backfill's): this run's work is in the build
            # file and is published with theirs. Not a failure: nothing went wrong, and a red run
            # would be an alert for nothing.
            message = f"not published by this run: {exc}"
            context.log.info(message)
            progress.report(message)
            return
    size = warehouse.warehouse.stat().st_size
    how = "changed blocks of the spare" if done.reused_spare else "whole copy"
    progress.report(f"published {warehouse.warehouse} ({size / 1e6:,.1f} MB; {how}, "
                    f"{done.bytes_written / 1e6:,.1f} MB written) in {done.seconds:.2f}s")
    yield MaterializeResult(metadata={
        "path": str(warehouse.warehouse),
        "size_bytes": size,
        "publish_seconds": round(done.seconds, 3),
        "publish_bytes_written": done.bytes_written,
        "publish_reused_spare": done.reused_spare,
    })
