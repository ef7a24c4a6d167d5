"""The orchestration (issue "Dagster"), tested through Dagster's own testing APIs.

`dagster definitions validate`, the asset graph of the one `defs`, `materialize(...)` and
`JobDefinition.execute_in_process(...)` runs over tiny hand-made exports, the schedule and the sensor
evaluated with `build_schedule_context` / `build_sensor_context`. Every expected number is worked out
by hand from the exports below (see the comments); none is computed with the code under test.

A dbt build is what costs, so only three runs build the models:

    workspace "single"    2026-11-23 through `materialize(...)` with explicit resources, then the
                          `refresh` job again with `full_refresh: True` for its load and its dbt
                          build (resources from the environment)
    workspace "backfill"  2026-11-23 .. 2026-11-25 in ONE run (a single-run backfill of the range);
                          2026-11-25 has mostly bad lines (rejected-share check); the sensor is
                          evaluated before it, after it, and after a re-delivery

The failed run (missing export day) and the re-run of the rejected-share check with a raised threshold
stop before dbt (the first fails in the load step; the second selects the raw assets only).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from conftest import REPO, process_group_gone, slow_fixture, write_export
from conftest import bot_message as bm
from conftest import user_message as um

DAY = "2026-11-23"
RANGE = ["2026-11-23", "2026-11-24", "2026-11-25"]
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
REJECTED_SHARE_CHECK = ("raw", "rejected_lines", "rejected_share_under_threshold")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def write_single_day(exports: Path, day: str = DAY) -> None:
    """The tiny export of the single-day runs.

    part-0000.jsonl   1 e1 user_message  u1/c1 web       10:00:00
                      2 e2 bot_message   u1/c1 web       10:00:05
                      3 e3 user_message  u2/c2 whatsapp  11:00:00
                      4 e1 again                          -> duplicate
                      5 "this is not json"                -> rejected
                      6 (blank)                           -> not a line
    part-0001.jsonl.gz
                      1 e4 bot_message   u2/c2 whatsapp  11:00:30
                      2 e2 again                          -> duplicate
                      3 {"event_id": "broken"}            -> rejected (missing fields)

    lines read 8 = 6 valid + 2 rejected; 6 valid = 4 events + 2 duplicates.
    Chats: u1 (e1, e2: 5 s) and u2 (e3, e4: 30 s) -> 2 rows in marts.fct_chats.
    """
    e1 = um("e1", f"{day}T10:00:00Z")
    e2 = bm("e2", f"{day}T10:00:05Z")
    e3 = um("e3", f"{day}T11:00:00Z", user="u2", conversation="c2", channel="whatsapp")
    e4 = bm("e4", f"{day}T11:00:30Z", user="u2", conversation="c2", channel="whatsapp")
    write_export(exports, day, "part-0000.jsonl", [e1, e2, e3, e1, "this is not json", ""])
    write_export(exports, day, "part-0001.jsonl.gz", [e4, e2, '{"event_id": "broken"}'])


SINGLE_DAY_NUMBERS = {"lines_read": 8, "events_loaded": 4, "duplicates": 2, "lines_rejected": 2}


def write_backfill_days(exports: Path) -> None:
    """Three days for the single-run backfill.

    2026-11-23  the single-day export above: 8 lines, 4 events, 2 duplicates, 2 rejected
    2026-11-24  b1 user_message + b2 bot_message (u3/c3): 2 lines, 2 events
    2026-11-25  g1 user_message + g2 bot_message (u4/c4), then 3 bad lines: 5 lines, 2 events,
                3 rejected -> rejected share 3/5 = 0.6, over the default threshold 0.02
    totals: 15 lines, 8 events, 2 duplicates, 5 rejected
    """
    write_single_day(exports, "2026-11-23")
    write_export(exports, "2026-11-24", "part-0000.jsonl", [
        um("b1", "2026-11-24T09:00:00Z", user="u3", conversation="c3"),
        bm("b2", "2026-11-24T09:00:10Z", user="u3", conversation="c3"),
    ])
    write_export(exports, "2026-11-25", "part-0000.jsonl", [
        um("g1", "2026-11-25T09:00:00Z", user="u4", conversation="c4"),
        bm("g2", "2026-11-25T09:00:10Z", user="u4", conversation="c4"),
        "{not json",
        '{"event_id": "x1"}',
        "[1, 2, 3]",
    ])


BACKFILL_NUMBERS = {"lines_read": 15, "events_loaded": 8, "duplicates": 2, "lines_rejected": 5}


def query(path: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def raw_events_metadata(result) -> dict:
    """The metadata of the raw/events materialization of a run, as plain values."""
    from dagster import AssetKey

    mats = [m for m in result.asset_materializations_for_node("raw_exports")
            if m.asset_key == AssetKey(["raw", "events"])]
    assert mats, "no raw/events materialization"
    # a single-run backfill records one materialization per partition of the run, with the run's metadata
    values = [{k: v.value for k, v in m.metadata.items() if not k.startswith("dagster/")} for m in mats]
    assert all(v == values[0] for v in values), values
    return values[0]


def partitions_materialized(result, key: str) -> list[str]:
    return sorted(e.partition for e in result.get_asset_materialization_events()
                  if e.event_specific_data.materialization.asset_key.to_user_string() == key)


def counts(metadata: dict) -> dict:
    return {k: metadata[k] for k in ("lines_read", "events_loaded", "duplicates", "lines_rejected")}


def check_evaluation(result, key: tuple):
    from dagster import AssetCheckKey, AssetKey

    wanted = AssetCheckKey(AssetKey(list(key[:-1])), key[-1])
    found = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == wanted]
    assert len(found) == 1, [e.asset_check_key for e in result.get_asset_check_evaluations()]
    return found[0]


def error_messages(result) -> str:
    """Every message in the error chains of the run's failed steps."""
    out = []
    for ev in result.all_events:
        if ev.is_step_failure:
            err = ev.step_failure_data.error
            while err is not None:
                out.append(f"{err.cls_name}: {err.message}")
                err = err.cause
    return "\n".join(out)


def run_logs(instance, run_id: str) -> str:
    return "\n".join(e.user_message for e in instance.all_logs(run_id))


def set_paths(mp: pytest.MonkeyPatch, root: Path) -> None:
    """The defs' resources read these when they are not given explicitly."""
    mp.setenv("ANALYTICS_WAREHOUSE", str(root / "warehouse.duckdb"))
    mp.setenv("ANALYTICS_EXPORTS", str(root / "exports"))


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def defs():
    from orchestration.build.dbt_project import ensure_manifest

    ensure_manifest()
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module", autouse=True)
def clean_environment():
    """No ANALYTICS_* setting of the caller leaks in, and none that a run might set leaks out."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("ANALYTICS_"):
                mp.delenv(name)
        yield


def warehouse_resource(root: Path):
    from orchestration.defs.resources import WarehouseResource

    return WarehouseResource(warehouse_path=str(root / "warehouse.duckdb"), exports_dir=str(root / "exports"))


def dbt_resource():
    from orchestration.defs.resources import make_resources

    return make_resources()["dbt"]


@pytest.fixture(scope="module")
@slow_fixture
def single(defs, tmp_path_factory):
    """2026-11-23 materialized with `materialize(...)`, then refreshed again with full_refresh."""
    from dagster import DagsterInstance, materialize

    from orchestration.defs.assets import published_warehouse, raw_exports, warehouse_dbt_models
    from orchestration.defs.checks import raw_checks

    root = tmp_path_factory.mktemp("single")
    write_single_day(root / "exports")
    warehouse = root / "warehouse.duckdb"

    first_instance = DagsterInstance.ephemeral()
    result = materialize(
        [raw_exports, warehouse_dbt_models, published_warehouse, *raw_checks],
        partition_key=DAY,
        resources={"warehouse": warehouse_resource(root), "dbt": dbt_resource()},
        instance=first_instance,
    )
    chats_sql = "select chat_id, user_id, channel, duration_seconds from marts.fct_chats order by user_id"
    assert result.success, error_messages(result)
    chats = query(warehouse, chats_sql)

    instance = DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as mp:
        set_paths(mp, root)  # the job's resources are the defs' ones: paths from the environment
        full = defs.resolve_job_def("refresh").execute_in_process(
            partition_key=DAY,
            # as `refresh --full` runs it: the load need not mark pending users before a full build
            run_config={"ops": {"raw_exports": {"config": {"full_refresh": True}},
                                "warehouse_dbt_models": {"config": {"full_refresh": True}}}},
            instance=instance,
        )
    assert full.success, error_messages(full)
    chats_after_full = query(warehouse, chats_sql)
    return SimpleNamespace(root=root, warehouse=warehouse, result=result, chats=chats, full=full,
                           logs=run_logs(first_instance, result.run_id),
                           full_logs=run_logs(instance, full.run_id), chats_after_full=chats_after_full)


@pytest.fixture(scope="module")
@slow_fixture
def backfill(defs, tmp_path_factory):
    """Three export days; the sensor before any load; one run over the range (a single-run backfill)."""
    from dagster import DagsterInstance, build_sensor_context

    root = tmp_path_factory.mktemp("backfill")
    write_backfill_days(root / "exports")
    sensor = defs.resolve_sensor_def("new_or_redelivered_export_days")
    instance = DagsterInstance.ephemeral()

    def evaluate_sensor():
        # definitions: partitioned run requests are validated against the job's partitions
        context = build_sensor_context(instance=instance, definitions=defs,
                                       resources={"warehouse": warehouse_resource(root)})
        return sensor.evaluate_tick(context)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
        before = evaluate_sensor()
        set_paths(mp, root)
        result = defs.resolve_job_def("refresh").execute_in_process(
            tags={RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[-1]},
            instance=instance,
        )
    assert result.success, error_messages(result)
    return SimpleNamespace(root=root, warehouse=root / "warehouse.duckdb", instance=instance, result=result,
                           sensor_before=before, evaluate_sensor=evaluate_sensor)


# ---------------------------------------------------------------------------------------------
# the definitions
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dagster_definitions_validate(defs, tmp_path):
    """`dagster definitions validate` from the repo root, no flags: pyproject's [tool.dagster] names the module."""
    dagster = Path(sys.executable).parent / "dagster"
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANALYTICS_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), ANALYTICS_WAREHOUSE=str(tmp_path / "warehouse.duckdb"),
               ANALYTICS_EXPORTS=str(tmp_path / "exports"))
    proc = subprocess.run([str(dagster), "definitions", "validate"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "success" in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


def test_asset_graph(defs):
    from dagster import AssetKey, TimeWindowPartitionsDefinition

    from orchestration.build.dbt_build import REVIEW_TESTS

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    expected = {
        # the export load, one multi-asset with a key per raw table
        "raw/events", "raw/rejected_lines", "raw/export_files", "raw/export_days", "raw/pending_users",
        # the serving file
        "serving/warehouse",
    }
    models = {f"{p.parent.name}/{p.stem}" for p in (REPO / "dbt_project" / "models").rglob("*.sql")}
    assert {"marts/fct_chats", "marts/dim_users", "staging/stg_platform__events"} <= models
    assert expected | models <= keys, sorted((expected | models) - keys)

    # the export load is daily-partitioned, and so is everything downstream of it
    events = graph.get(AssetKey(["raw", "events"]))
    assert isinstance(events.partitions_def, TimeWindowPartitionsDefinition)
    assert events.partitions_def.cron_schedule == "0 0 * * *" and events.partitions_def.timezone == "UTC"
    assert graph.get(AssetKey(["marts", "fct_chats"])).partitions_def == events.partitions_def

    # dbt tests are asset checks, and there are the two raw checks
    check_keys = graph.asset_check_keys
    assert any(k.asset_key.path[0] == "marts" for k in check_keys), sorted(map(str, check_keys))
    names = {(*k.asset_key.path, k.name) for k in check_keys}
    assert ("marts", "dim_users", "dim_users_one_row_per_user") in names
    # the routine column tests run in dbt, but are not checks: each would cost events in every run
    assert not any(name.startswith(("not_null_", "accepted_values_", "relationships_")) or name.endswith("_not_null")
                   for *_, name in names)
    # nor the review tests, which only a full rebuild runs (an incremental run left them "skipped")
    assert not any(name in REVIEW_TESTS for *_, name in names)
    assert REJECTED_SHARE_CHECK in names
    assert ("raw", "export_days", "exports_are_fresh") in names

    # the schedule, the sensor and the jobs
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "30 2 * * *"
    assert schedule.job_name == "refresh"
    sensor = defs.resolve_sensor_def("new_or_redelivered_export_days")
    assert sensor.job_name == "refresh"
    refresh = defs.resolve_job_def("refresh")
    assert refresh.partitions_def == events.partitions_def
    assert refresh.asset_layer.executable_asset_keys >= {AssetKey(["raw", "events"]),
                                                         AssetKey(["marts", "fct_chats"]),
                                                         AssetKey(["serving", "warehouse"])}
    rebuild = defs.resolve_job_def("rebuild_models")
    assert AssetKey(["raw", "events"]) not in rebuild.asset_layer.executable_asset_keys
    assert AssetKey(["serving", "warehouse"]) in rebuild.asset_layer.executable_asset_keys


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


def test_materialize_one_export_day(single):
    result = single.result
    assert result.success
    assert single.warehouse.exists()
    # u1's chat lasts 5 s on web, u2's 30 s on WhatsApp
    assert [(u, ch, float(d)) for _, u, ch, d in single.chats] == [("u1", "web", 5.0), ("u2", "whatsapp", 30.0)]

    md = raw_events_metadata(result)
    assert counts(md) == SINGLE_DAY_NUMBERS
    assert md["export_days"] == [DAY]
    assert md["rejects_by_reason"] and sum(md["rejects_by_reason"].values()) == 2
    assert md["damaged_files"] == []

    # the loaded rows are in the published file, with the build's numbers
    assert query(single.warehouse, "select count(*), count(distinct event_id) from raw.events "
                                   f"where export_date = '{DAY}'") == [(6, 4)]
    assert query(single.warehouse, "select count(*) from raw.rejected_lines") == [(2,)]

    # every asset of the run was materialized for the partition, the serving file last
    materialized = {m.asset_key.to_user_string() for m in
                    (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}
    assert {"raw/events", "marts/fct_chats", "marts/dim_users", "serving/warehouse"} <= materialized
    assert all(e.partition == DAY for e in result.get_asset_materialization_events())

    # dbt tests ran as asset checks and passed; the rejected share (2/8) breaches the default 0.02
    evaluations = result.get_asset_check_evaluations()
    dbt_checks = [e for e in evaluations if e.asset_key.path[0] in ("staging", "intermediate", "marts")]
    assert dbt_checks and all(e.passed for e in dbt_checks), [e.asset_check_key for e in dbt_checks if not e.passed]
    assert check_evaluation(result, REJECTED_SHARE_CHECK).passed is False


def test_the_rejected_share_check_judges_the_runs_own_days(tmp_path):
    """A day over ANALYTICS_MAX_REJECTED_SHARE fails the check of the run that loads it, not of every
    later run: a clean day's run passes, and a range holding both names the bad day alone."""
    from dagster import DagsterInstance, materialize

    from orchestration.defs.assets import raw_exports
    from orchestration.defs.checks import raw_checks

    bad, clean = RANGE[0], RANGE[1]
    write_single_day(tmp_path / "exports", bad)  # 2 of 8 lines rejected
    write_export(tmp_path / "exports", clean, "part-0000.jsonl", [um("c1", f"{clean}T10:00:00Z")])
    instance = DagsterInstance.ephemeral()

    def check_of(**partition) -> dict:
        result = materialize([raw_exports, *raw_checks], **partition, instance=instance,
                             resources={"warehouse": warehouse_resource(tmp_path)})
        assert result.success, error_messages(result)
        evaluation = check_evaluation(result, REJECTED_SHARE_CHECK)
        return {"passed": evaluation.passed, "days_checked": evaluation.metadata["days_checked"].value,
                "over": evaluation.metadata["days_over_threshold"].value}

    assert check_of(partition_key=bad) == {"passed": False, "days_checked": 1, "over": {bad: 0.25}}
    assert check_of(partition_key=clean) == {"passed": True, "days_checked": 1, "over": {}}
    both = check_of(tags={RANGE_START_TAG: bad, RANGE_END_TAG: clean})
    assert both == {"passed": False, "days_checked": 2, "over": {bad: 0.25}}


def test_full_refresh_run_config(single):
    result = single.full
    assert result.success
    assert "Running dbt command" in single.logs and "--full-refresh" not in single.logs  # the first run: incremental
    assert "--full-refresh" in single.full_logs, "dbt was not run with --full-refresh"
    assert counts(raw_events_metadata(result)) == SINGLE_DAY_NUMBERS  # reloading the day changes nothing
    assert single.chats_after_full == single.chats  # a rebuild gives the same chats, same ids


def test_single_run_backfill_of_three_days(backfill):
    result = backfill.result
    assert result.success
    # ONE run, one load step, covering the three days
    md = raw_events_metadata(result)
    assert md["export_days"] == RANGE
    assert counts(md) == BACKFILL_NUMBERS
    for key in ("raw/events", "raw/export_days", "marts/fct_chats", "serving/warehouse"):
        assert partitions_materialized(result, key) == RANGE, key
    assert len({e.step_key for e in result.all_events if e.is_step_start and e.step_key == "raw_exports"}) == 1
    rows = query(backfill.warehouse, "select export_date, lines_read from raw.export_days order by 1")
    assert [(d.isoformat(), n) for d, n in rows] == list(zip(RANGE, [8, 2, 5]))
    assert query(backfill.warehouse, "select count(*) from marts.fct_chats") == [(4,)]  # u1, u2, u3, u4


def test_rejected_share_check_fails_but_good_rows_stay(backfill):
    evaluation = check_evaluation(backfill.result, REJECTED_SHARE_CHECK)
    assert evaluation.passed is False
    md = {k: v.value for k, v in evaluation.metadata.items()}
    assert md["threshold"] == 0.02
    assert md["days_over_threshold"] == {"2026-11-23": 0.25, "2026-11-25": 0.6}  # 2/8 and 3/5
    assert md["worst_share"] == 0.6
    # a non-blocking check: the run went on and published the good rows of the bad day
    assert backfill.result.success
    assert query(backfill.warehouse, "select event_id from raw.events where export_date = '2026-11-25' "
                                     "order by 1") == [("g1",), ("g2",)]
    assert query(backfill.warehouse, "select user_id from marts.fct_chats where user_id = 'u4'") == [("u4",)]


def test_rejected_share_check_passes_with_a_raised_threshold(defs, backfill, monkeypatch):
    """Only the raw assets (and their checks) are selected: no dbt build, no publish."""
    from dagster import DagsterInstance

    from orchestration.defs.assets import RAW_KEYS

    set_paths(monkeypatch, backfill.root)
    monkeypatch.setenv("ANALYTICS_MAX_REJECTED_SHARE", "0.7")
    result = defs.resolve_job_def("refresh").execute_in_process(
        partition_key="2026-11-25",
        asset_selection=RAW_KEYS,  # the load's assets, all of them (it cannot be split)
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    assert counts(raw_events_metadata(result)) == {"lines_read": 5, "events_loaded": 2, "duplicates": 0,
                                                   "lines_rejected": 3}
    evaluation = check_evaluation(result, REJECTED_SHARE_CHECK)
    assert evaluation.passed is True
    assert evaluation.metadata["threshold"].value == 0.7
    assert evaluation.metadata["days_over_threshold"].value == {}
    materialized = {e.event_specific_data.materialization.asset_key.path[0]
                    for e in result.get_asset_materialization_events()}
    assert materialized == {"raw"}, materialized


def test_a_backfill_loads_the_days_of_its_range_that_have_a_folder(defs, tmp_path, monkeypatch):
    """A range from the UI with days the platform did not export (before, between and after the
    ones it did): the run loads the others and names the missing ones in its log, as `refresh
    --from/--to` does. A range without any folder fails, naming the range. The raw assets alone:
    no dbt build, no publish."""
    from dagster import DagsterInstance

    from orchestration.defs.assets import RAW_KEYS

    write_backfill_days(tmp_path / "exports")
    shutil.rmtree(tmp_path / "exports" / f"dt={RANGE[1]}")
    (tmp_path / "exports" / "dt=2026-11-26").symlink_to(tmp_path / "exports" / f"dt={RANGE[0]}")  # not read
    set_paths(monkeypatch, tmp_path)

    instance = DagsterInstance.ephemeral()

    def run(first: str, last: str):
        return defs.resolve_job_def("refresh").execute_in_process(
            tags={RANGE_START_TAG: first, RANGE_END_TAG: last}, asset_selection=RAW_KEYS,
            instance=instance, raise_on_error=False)

    result = run("2026-11-22", "2026-11-26")
    assert result.success, error_messages(result)
    assert raw_events_metadata(result)["export_days"] == [RANGE[0], RANGE[2]]
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert "no folder for 2 export day(s) of the range, not loaded: 2026-11-22, 2026-11-24" in logged, logged
    assert ("not reading 1 day folder(s) of the range that are symbolic links (links are not read; copy the folder "
            "in): dt=2026-11-26" in logged), logged
    from orchestration.settings import build_path_for

    build = build_path_for(tmp_path / "warehouse.duckdb")
    assert query(build, "select export_date::varchar from raw.export_days order by 1") == [(RANGE[0],), (RANGE[2],)]

    nothing = run("2026-11-27", "2026-11-28")
    assert not nothing.success
    assert "no export day between 2026-11-27 and 2026-11-28" in error_messages(nothing)


def test_missing_export_day_fails_the_run_naming_the_day(defs, tmp_path, monkeypatch):
    from dagster import DagsterInstance

    write_single_day(tmp_path / "exports", DAY)
    set_paths(monkeypatch, tmp_path)
    result = defs.resolve_job_def("refresh").execute_in_process(
        partition_key="2026-11-22", instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    assert failed == ["raw_exports"], failed
    messages = error_messages(result)
    assert "export day 2026-11-22 not found" in messages, messages
    assert str(tmp_path / "exports" / "dt=2026-11-22") in messages, messages
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing was published


# ---------------------------------------------------------------------------------------------
# the schedule and the sensor
# ---------------------------------------------------------------------------------------------


def test_nightly_schedule(defs, tmp_path):
    from dagster import build_schedule_context

    from orchestration.defs.jobs import TRIGGER_TAG

    schedule = defs.resolve_schedule_def("nightly_refresh")
    at = dt.datetime(2026, 11, 24, 2, 30, tzinfo=dt.UTC)

    def evaluate():
        # repository_def: a partitioned run request is validated against the job's partitions
        context = build_schedule_context(scheduled_execution_time=at, repository_def=defs.get_repository_def(),
                                         resources={"warehouse": warehouse_resource(tmp_path)})
        return schedule.evaluate_tick(context)

    (tmp_path / "exports").mkdir()
    data = evaluate()
    assert not data.run_requests
    assert "2026-11-23" in data.skip_message, data.skip_message

    write_single_day(tmp_path / "exports", "2026-11-24")  # today's delivery is not the one it wants
    data = evaluate()
    assert not data.run_requests and "2026-11-23" in data.skip_message

    # a link in the day's place is not an export day (the loader refuses it): no run that would fail
    (tmp_path / "exports" / "dt=2026-11-23").symlink_to(tmp_path / "exports" / "dt=2026-11-24")
    data = evaluate()
    assert not data.run_requests and "2026-11-23" in data.skip_message and "link" in data.skip_message
    (tmp_path / "exports" / "dt=2026-11-23").unlink()
    # so is a file of the day's name: the skip says what is there, as the loader would
    (tmp_path / "exports" / "dt=2026-11-23").write_text("")
    data = evaluate()
    assert not data.run_requests and data.skip_message == (
        f"export day 2026-11-23 not read: {tmp_path / 'exports' / 'dt=2026-11-23'} is a file, not a folder")
    (tmp_path / "exports" / "dt=2026-11-23").unlink()

    write_single_day(tmp_path / "exports", "2026-11-23")
    data = evaluate()
    assert [r.partition_key for r in data.run_requests] == ["2026-11-23"]
    assert data.run_requests[0].job_name in (None, "refresh")
    assert data.run_requests[0].tags[TRIGGER_TAG] == "nightly"


def test_sensor_before_any_load(backfill):
    before = backfill.sensor_before
    assert [r.partition_key for r in before.run_requests] == RANGE
    assert len({r.run_key for r in before.run_requests}) == 3


def test_sensor_after_refresh_then_redelivery(backfill, monkeypatch):
    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    after = backfill.evaluate_sensor()
    assert not after.run_requests, [r.partition_key for r in after.run_requests]
    assert after.skip_message

    # re-deliver 2026-11-24: the file is rewritten with one more event (size and mtime change)
    path = backfill.root / "exports" / "dt=2026-11-24" / "part-0000.jsonl"
    old = path.stat()
    write_export(backfill.root / "exports", "2026-11-24", "part-0000.jsonl", [
        um("b1", "2026-11-24T09:00:00Z", user="u3", conversation="c3"),
        bm("b2", "2026-11-24T09:00:10Z", user="u3", conversation="c3"),
        um("b3", "2026-11-24T09:01:00Z", user="u3", conversation="c3"),
    ])
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 5_000_000_000))
    assert path.stat().st_size != old.st_size

    redelivered = backfill.evaluate_sensor()
    assert [r.partition_key for r in redelivered.run_requests] == ["2026-11-24"]
    first_key = {r.partition_key: r.run_key for r in backfill.sensor_before.run_requests}["2026-11-24"]
    assert redelivered.run_requests[0].run_key != first_key

    # evaluated again, the sensor asks for the same run (same key): Dagster runs it once
    again = backfill.evaluate_sensor()
    assert [r.run_key for r in again.run_requests] == [redelivered.run_requests[0].run_key]


def _a_file_the_load_lacks(backfill, name: str, event_id: str, user: str):
    """A file added to 2026-11-23 of the backfill's exports (the day's files then differ from its
    load), and what the sensor asks for that day: its run keys."""
    day = "2026-11-23"
    path = backfill.root / "exports" / f"dt={day}" / name
    write_export(backfill.root / "exports", day, name, [um(event_id, f"{day}T12:00:00Z", user=user,
                                                           conversation=f"c-{user}")])

    def requested() -> list[str]:
        return [r.run_key for r in backfill.evaluate_sensor().run_requests if r.partition_key == day]

    return path, requested


def _attempt(instance, day: str, key: str, status):
    """A run of `day` under run key `key` in `status`, as the sensor's request would have made it."""
    import uuid

    from dagster import DagsterRun
    from dagster._core.storage.tags import PARTITION_NAME_TAG, RUN_KEY_TAG

    return instance.add_run(DagsterRun(job_name="refresh", run_id=str(uuid.uuid4()), status=status,
                                       tags={RUN_KEY_TAG: key, PARTITION_NAME_TAG: day}))


def test_a_day_whose_sensor_run_failed_is_asked_for_again_after_a_wait(backfill, monkeypatch):
    """Dagster starts a run key once, failed or not: a re-delivered day whose run failed (a lock
    held too long, a bad setting since fixed) was never asked for again while its files stayed the
    same. Now a failed attempt is followed, RETRY_FAILED_AFTER_SECONDS after it ended, by one of a
    key of its own; a running attempt, or a recent failure, gets none."""
    from dagster import DagsterRunStatus

    from orchestration.defs import sensors

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    path, requested = _a_file_the_load_lacks(backfill, "late.jsonl", "r1", "u8")

    def attempt(key: str, status: DagsterRunStatus):
        return _attempt(backfill.instance, "2026-11-23", key, status)

    try:
        [key] = requested()
        going = attempt(key, DagsterRunStatus.STARTED)
        assert requested() == []  # its run is going
        backfill.instance.delete_run(going.run_id)
        attempt(key, DagsterRunStatus.FAILURE)
        assert requested() == []  # failed a moment ago: waits
        monkeypatch.setattr(sensors, "RETRY_FAILED_AFTER_SECONDS", 0)
        assert requested() == [f"{key}:1"]
        attempt(f"{key}:1", DagsterRunStatus.FAILURE)
        assert requested() == [f"{key}:2"]
        monkeypatch.setattr(sensors, "RETRY_FAILED_AFTER_SECONDS", 3600)
        attempt(f"{key}:2", DagsterRunStatus.SUCCESS)
        assert requested() == []  # loaded by that run
    finally:
        path.unlink()


def test_a_day_whose_files_go_back_to_an_earlier_delivery_is_asked_for_again(backfill, monkeypatch):
    """Files F loaded by a sensor run, then G by a later run, then F put back as they were (names,
    sizes and times: `rsync -a`, `cp -p`): F's key had succeeded, so the sensor skipped the day for
    good while the warehouse held G. Now F is asked for again under a key of its own, at once since a
    later run of the day succeeded; with no later run in sight, an hour after F's run ended."""
    from dagster import DagsterRunStatus

    from orchestration.defs import sensors

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    day = "2026-11-23"
    path, requested = _a_file_the_load_lacks(backfill, "restored.jsonl", "f1", "u9")
    added = []

    def succeeded(key: str) -> None:
        added.append(_attempt(backfill.instance, day, key, DagsterRunStatus.SUCCESS).run_id)

    try:
        [f_key] = requested()
        succeeded(f_key)  # F loaded
        assert requested() == []  # within the hour, with no later run: as loaded by that run
        monkeypatch.setattr(sensors, "RETRY_FAILED_AFTER_SECONDS", 0)
        assert requested() == [f"{f_key}:1"]  # an hour on, the warehouse still without F
        monkeypatch.setattr(sensors, "RETRY_FAILED_AFTER_SECONDS", 3600)
        time.sleep(0.01)  # a later creation time
        succeeded(f"{day}:r9-othersfiles")  # G loaded by a later run of the day
        assert requested() == [f"{f_key}:1"]
    finally:
        path.unlink()
        for run_id in added:
            backfill.instance.delete_run(run_id)


@pytest.mark.parametrize("origin", ["sensor, other files", "UI", "backfill", "schedule"])
def test_the_sensor_asks_for_no_day_a_run_of_which_is_going_or_queued(backfill, monkeypatch, origin):
    """Whatever started the run of a day (this sensor when its files were other, the UI with no run
    key, a backfill over a range, the schedule), the sensor asks for no second run while it is not
    finished (docs/nightly.md), and says why in its skip reason; once that run ends, it asks."""
    import uuid

    from dagster import DagsterEvent, DagsterEventType, DagsterRun, DagsterRunStatus
    from dagster._core.storage.tags import PARTITION_NAME_TAG, RUN_KEY_TAG

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    day = "2026-11-24"
    path = backfill.root / "exports" / f"dt={day}" / "late.jsonl"
    write_export(backfill.root / "exports", day, "late.jsonl",
                 [um("q1", f"{day}T12:00:00Z", user="u7", conversation="c7")])
    tags = {"sensor, other files": {RUN_KEY_TAG: f"{day}:0123456789abcdef", PARTITION_NAME_TAG: day},
            "UI": {PARTITION_NAME_TAG: day},
            "backfill": {RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[-1]},
            "schedule": {RUN_KEY_TAG: f"nightly-{day}", PARTITION_NAME_TAG: day}}[origin]
    run = backfill.instance.add_run(DagsterRun(job_name="refresh", run_id=str(uuid.uuid4()),
                                               status=DagsterRunStatus.STARTED, tags=tags,
                                               remote_job_origin=launched_from_the_code_location("refresh")))
    try:
        waiting = backfill.evaluate_sensor()
        assert [r.partition_key for r in waiting.run_requests] == []
        assert waiting.skip_message == f"new or re-delivered export days waiting: a run of it going or queued: {day}"
        backfill.instance.handle_run_event(run.run_id, DagsterEvent(
            DagsterEventType.RUN_SUCCESS.value, job_name="refresh", message="ended"))
        assert [r.partition_key for r in backfill.evaluate_sensor().run_requests] == [day]
    finally:
        path.unlink()
        backfill.instance.delete_run(run.run_id)


def launched_from_the_code_location(job_name: str):
    """The origin a run launched by the daemon, the UI or a backfill has (the code location its run
    worker loads the job from); a run executed in its own process, as the CLI's, has none."""
    from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

    return RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(
        code_location_origin=RegisteredCodeLocationOrigin(LOCATION), repository_name="__repository__"),
        job_name=job_name)


@pytest.mark.parametrize("version", ["tagged", "before the tag"])
def test_a_killed_cli_refresh_or_another_jobs_run_holds_no_day_back(backfill, monkeypatch, version):
    """A CLI refresh's run left "started" by a kill (no daemon watches that process) holds its days
    back only while a refresh holds the warehouse's lock; a run of other partitions (hourly, say)
    neither holds a day back nor fails the tick. A version before the CLI tagged its runs left runs
    without the tag: known by their lack of a code location (an upgrade audit found a day the
    sensor never loaded again)."""
    import uuid

    from dagster import DagsterRun, DagsterRunStatus

    from orchestration.build.build_file import refresh_lock
    from orchestration.defs.jobs import CLI_TRIGGER, TRIGGER_TAG

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    day = "2026-11-25"
    path = backfill.root / "exports" / f"dt={day}" / "late.jsonl"
    write_export(backfill.root / "exports", day, "late.jsonl",
                 [um("k1", f"{day}T12:00:00Z", user="u6", conversation="c6")])
    runs = [backfill.instance.add_run(DagsterRun(job_name=job, run_id=str(uuid.uuid4()),
                                                 status=DagsterRunStatus.STARTED, tags=tags))
            for job, tags in [("refresh", {RANGE_START_TAG: RANGE[0], RANGE_END_TAG: RANGE[-1],
                                           **({TRIGGER_TAG: CLI_TRIGGER} if version == "tagged" else {})}),
                              ("other", {RANGE_START_TAG: "2026-11-25-00:00", RANGE_END_TAG: "2026-11-25-05:00"})]]
    try:
        # killed: no lock is held (another test's re-delivered day may be asked for too)
        assert day in [r.partition_key for r in backfill.evaluate_sensor().run_requests]
        with refresh_lock(backfill.warehouse):  # the CLI refresh is going
            held = backfill.evaluate_sensor()
        assert not held.run_requests and "a run of it going or queued: " in held.skip_message
        assert held.skip_message.endswith(day)
    finally:
        path.unlink()
        for run in runs:
            backfill.instance.delete_run(run.run_id)


def test_a_launched_run_whose_process_is_gone_is_marked_failed_and_its_day_asked_for_again(defs, backfill,
                                                                                           monkeypatch):
    """A run launched from the code location (the schedule's, the sensor's, a backfill's, the UI's)
    runs in a child process of the code server. Killed with it (`dagster dev` or the machine
    restarted during the run), nothing marked the run ended: it stayed "started" for good, the
    sensor never asked for its day again, and with one run at a time it held the run queue. Now the
    sensor marks it failed, saying why, and asks for the day. Left going: a run whose process runs,
    and one whose code server is on another host; a pid that another program holds now (the pid
    used again after a restart) is not taken for the run's. On an instance with Dagster's default
    run launcher, as `dagster dev` has (the backfill's ephemeral one runs runs in its own process)."""
    import json
    import uuid

    from dagster import DagsterEventType, DagsterRun, DagsterRunStatus, build_sensor_context
    from dagster._core.events import EngineEventData
    from dagster._core.storage.tags import GRPC_INFO_TAG, PARTITION_NAME_TAG
    from dagster._core.test_utils import instance_for_test

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    path, _ = _a_file_the_load_lacks(backfill, "gone.jsonl", "g1", "u5")
    sensor = defs.resolve_sensor_def("new_or_redelivered_export_days")
    ended = subprocess.Popen(["true"])
    ended.wait()
    # a run's process as the code server starts it (multiprocessing's spawn), and another program
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--multiprocessing-fork"])
    other = subprocess.Popen(["sleep", "120"])
    with instance_for_test() as instance:

        def started_run(pid: int, host: str = "localhost") -> str:
            run = instance.add_run(DagsterRun(
                job_name="refresh", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED,
                tags={PARTITION_NAME_TAG: DAY, GRPC_INFO_TAG: json.dumps({"host": host, "port": 4266})},
                remote_job_origin=launched_from_the_code_location("refresh")))
            instance.report_engine_event(f"Started process for run (pid: {pid}).", run,
                                         EngineEventData.in_process(pid))
            return run.run_id

        def tick() -> list[str]:
            """The day's requests (another test's re-delivered day may be asked for too)."""
            context = build_sensor_context(instance=instance, definitions=defs,
                                           resources={"warehouse": warehouse_resource(backfill.root)})
            return [r.partition_key for r in sensor.evaluate_tick(context).run_requests if r.partition_key == DAY]

        def status_of(run_id: str):
            return instance.get_run_by_id(run_id).status

        try:
            for pid, host in ((worker.pid, "localhost"), (ended.pid, "code.elsewhere.internal")):
                going = started_run(pid, host)  # runs, or cannot be looked for: left going
                assert tick() == [] and status_of(going) == DagsterRunStatus.STARTED
                instance.delete_run(going)

            for pid in (ended.pid, other.pid):  # gone, or its pid held by another program now
                gone = started_run(pid)
                assert tick() == [DAY]
                assert status_of(gone) == DagsterRunStatus.FAILURE
                [failure] = instance.all_logs(gone, of_type=DagsterEventType.RUN_FAILURE)
                assert f"the run's process (pid {pid}) is gone" in failure.dagster_event.message
                instance.delete_run(gone)

            # the sensor on from the start does it too, without the export days' sensor: with one
            # run at a time (README), such a run held the queue, the schedule's runs included
            watcher = defs.resolve_sensor_def("fail_runs_whose_process_is_gone")
            gone = started_run(ended.pid)
            result = watcher.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
            assert result.skip_message == f"marked failed: {gone}" and status_of(gone) == DagsterRunStatus.FAILURE
            assert watcher.evaluate_tick(build_sensor_context(instance=instance, definitions=defs)).skip_message \
                == "no started run without its process"
        finally:
            path.unlink()
            for process in (worker, other):
                process.kill()
                process.wait()


def test_a_cli_refreshs_run_left_started_by_a_kill_is_marked_failed_once_no_refresh_holds_the_lock(defs, tmp_path):
    """A run of `assistant-analytics refresh` (tagged as the CLI's) runs in that command's process,
    which holds the warehouse's lock from before its first run to after its last. Killed, its run
    stayed "started" for good, and with the README's one run at a time held every queued run
    (the schedule's, the sensor's). While a refresh holds the lock it is left going."""
    import uuid

    from dagster import DagsterRun, DagsterRunStatus, build_sensor_context
    from dagster._core.test_utils import instance_for_test

    from orchestration.build.build_file import refresh_lock
    from orchestration.defs.jobs import CLI_TRIGGER, TRIGGER_TAG

    warehouse = tmp_path / "warehouse.duckdb"
    watcher = defs.resolve_sensor_def("fail_runs_whose_process_is_gone")
    with instance_for_test() as instance:

        def cli_run(path: str) -> str:
            return instance.add_run(DagsterRun(
                job_name="refresh", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED,
                tags={TRIGGER_TAG: CLI_TRIGGER},
                run_config={"resources": {"warehouse": {"config": {"warehouse_path": path}}}})).run_id

        def tick() -> str:
            return watcher.evaluate_tick(build_sensor_context(instance=instance, definitions=defs)).skip_message

        going = cli_run(str(warehouse))
        with refresh_lock(warehouse):
            assert tick() == "no started run without its process"
        relative = cli_run("warehouse.duckdb")  # whose lock cannot be found from here: left going
        assert tick() == f"marked failed: {going}"
        assert instance.get_run_by_id(going).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(relative).status == DagsterRunStatus.STARTED


def test_the_sensor_names_the_day_folders_it_never_reads(defs, tmp_path, monkeypatch):
    """A folder named like a day without a real date (`dt=2026-11-31`) and a day folder that is a
    symbolic link are never read. `status` and `refresh --all` named the first, nothing named the
    second, and the sensor's ticks said "every export day is loaded as delivered": a day delivered
    as a link waited unseen. Now the tick's skip reason names both."""
    from dagster import DagsterInstance, build_sensor_context

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    exports = tmp_path / "exports"
    (exports / "dt=2026-11-31").mkdir(parents=True)
    (exports / "dt=2026-11-30 ").mkdir()  # its space would be hidden in the list: quoted
    write_single_day(tmp_path / "elsewhere", DAY)
    (exports / f"dt={DAY}").symlink_to(tmp_path / "elsewhere" / f"dt={DAY}")
    sensor = defs.resolve_sensor_def("new_or_redelivered_export_days")
    tick = sensor.evaluate_tick(build_sensor_context(instance=DagsterInstance.ephemeral(), definitions=defs,
                                                     resources={"warehouse": warehouse_resource(tmp_path)}))
    assert not tick.run_requests, tick.run_requests
    assert tick.skip_message == (
        "every export day is loaded as delivered; never read: entries named like an export day but not "
        'a dt=YYYY-MM-DD folder with a real date: "dt=2026-11-30 ", dt=2026-11-31; dt= entries that are symbolic '
        f"links (copy the folder in): dt={DAY}")


def test_the_sensor_names_an_exports_folder_that_is_not_there(defs, tmp_path, monkeypatch):
    """An audit: with the exports folder gone (a mount lost, a setting mistyped) the sensor's ticks
    said "every export day is loaded as delivered", while `status`, the schedule and a run named the
    folder. Its skip reason now names it too, as a folder or a file in the way."""
    from dagster import DagsterInstance, build_sensor_context

    sensor = defs.resolve_sensor_def("new_or_redelivered_export_days")
    exports = tmp_path / "exports"
    for make in (lambda: None, lambda: exports.write_text("")):
        make()
        tick = sensor.evaluate_tick(build_sensor_context(instance=DagsterInstance.ephemeral(), definitions=defs,
                                                         resources={"warehouse": warehouse_resource(tmp_path)}))
        what = f"{exports} is not a folder" if exports.exists() else f"no exports folder {exports}"
        assert not tick.run_requests
        assert tick.skip_message == (f"no export day can be read: {what} (ANALYTICS_EXPORTS, or the exports "
                                     "folder given)")


FIRST_STEPS = {"refresh": "raw_exports", "rebuild_models": "warehouse_dbt_models"}


def first_step_failures(defs, partition_key: str | None = None) -> dict[str, tuple[str, str]]:
    """Each job run in process (no run history): the step it failed at and that step's own error."""
    from dagster import DagsterInstance

    failed = {}
    for job in ("refresh", "rebuild_models"):
        result = defs.resolve_job_def(job).execute_in_process(instance=DagsterInstance.ephemeral(),
                                                              partition_key=partition_key, raise_on_error=False)
        [failure] = [e for e in result.all_events if e.is_step_failure]
        error = failure.step_failure_data.error.cause or failure.step_failure_data.error  # under Dagster's
        failed[job] = (failure.step_key, error.message)
    return failed


def test_a_run_without_an_export_day_stops_at_once_saying_how_to_launch_it(defs, tmp_path, monkeypatch):
    """The Launchpad launches a job without a partition by default: the assets are partitioned, and
    Dagster failed the run with "Cannot access partition_key for a non-partitioned run",
    rebuild_models's only after dbt had started. Now each job's first step stops with one line."""
    set_paths(monkeypatch, tmp_path)
    failed = first_step_failures(defs)
    assert {job: step for job, (step, _) in failed.items()} == FIRST_STEPS
    for job, (_, message) in failed.items():
        assert message.startswith(
            f"RuntimeError: run {job} for export days: launch it with a partition, an export day"), message
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_run_with_the_warehouse_in_an_export_day_folder_stops_at_its_first_step(defs, tmp_path, monkeypatch):
    """ANALYTICS_WAREHOUSE inside a day folder of ANALYTICS_EXPORTS: each job's first step stops with
    the CLI's line, before the build file, lock or record is written among the platform's files."""
    day = write_export(tmp_path / "exports", DAY, "part-0000.jsonl",
                       [um("e1", f"{DAY}T09:00:00Z")]).parent
    monkeypatch.setenv("ANALYTICS_EXPORTS", str(tmp_path / "exports"))
    monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(day / "w.duckdb"))
    failed = first_step_failures(defs, DAY)
    assert {job: step for job, (step, _) in failed.items()} == FIRST_STEPS
    for _, message in failed.values():
        assert f"the warehouse {day / 'w.duckdb'} is in the export day folder {day}, whose files are" in message, \
            message
    assert sorted(p.name for p in day.iterdir()) == ["part-0000.jsonl"]


def test_a_run_with_a_bad_seed_stops_at_its_first_step_naming_the_line(defs, tmp_path, monkeypatch):
    """A deployment's seed edited wrong (a timeout of 0): each job's first step stops with the
    seed's line (build/seeds.py), before the day is loaded or dbt starts; before, the load ran and
    the build failed naming a dbt test."""
    import orchestration.build.seeds as seeds

    set_paths(monkeypatch, tmp_path)
    write_export(tmp_path / "exports", DAY, "part-0000.jsonl", [um("e1", f"{DAY}T09:00:00Z")])
    edited = tmp_path / "seeds"
    shutil.copytree(seeds.SEEDS_DIR, edited)
    (edited / "channels.csv").write_text("channel,inactivity_timeout_minutes\nweb,0\n")
    monkeypatch.setattr(seeds, "SEEDS_DIR", edited)
    failed = first_step_failures(defs, DAY)
    assert {job: step for job, (step, _) in failed.items()} == FIRST_STEPS
    for _, message in failed.values():
        assert f"{edited / 'channels.csv'} line 2: inactivity_timeout_minutes '0' of channel 'web' is not valid" \
            in message, message
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert not any(tmp_path.glob(".warehouse.build.duckdb*"))


# ---------------------------------------------------------------------------------------------
# `dagster dev` as its users run it (README "Run it nightly")
# ---------------------------------------------------------------------------------------------

LOCATION = "assistant_analytics"
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
START_UP_SECONDS = 120


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


LOCATION_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS_QUERY = """{ assetNodes { assetKey { path } isPartitioned
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } } } }"""
AUTOMATION_QUERY = """query($repo: RepositorySelector!) {
    schedulesOrError(repositorySelector: $repo) { __typename ... on Schedules {
        results { name cronSchedule scheduleState { status } } } }
    sensorsOrError(repositorySelector: $repo) { __typename ... on Sensors {
        results { name sensorState { status } } } } }"""
RUNS_QUERY = """{ runsOrError { __typename ... on Runs { results { jobName status
    tags { key value } } } } }"""


def user_environment(home: Path, root: Path) -> dict:
    """A shell where the Quickstart's venv is NOT activated: its bin is not on PATH."""
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANALYTICS_", "DAGSTER_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p).resolve() != venv_bin.resolve())
    env["DAGSTER_HOME"] = str(home)
    # the warehouse and exports of this test, not the clone's data/
    env["ANALYTICS_WAREHOUSE"] = str(root / "warehouse.duckdb")
    env["ANALYTICS_EXPORTS"] = str(root / "exports")
    return env


def wait_for_location(port: int, process: subprocess.Popen, log: Path) -> None:
    import time
    import urllib.error

    deadline = time.monotonic() + START_UP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited {process.returncode}:\n{log.read_text()[-5000:]}"
        try:
            entries = graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            entries = []
        for entry in entries:
            loaded = entry["locationOrLoadError"]
            if loaded and loaded["__typename"] == "PythonError":
                pytest.fail(f"the code location failed to load: {loaded['message']}")
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED" and loaded:
                return
        time.sleep(1)
    pytest.fail(f"no code location loaded within {START_UP_SECONDS}s:\n{log.read_text()[-5000:]}")


def as_in_a_terminal() -> None:
    """In the child before it runs dagster: SIGINT at its default, as a shell starts a command in the
    foreground (whatever the suite was started with)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_group(process: subprocess.Popen) -> bool:
    """Ctrl-C, as in the terminal (SIGINT to the process group), and a second Ctrl-C if the first
    did not stop it, as a person would press it again; True when every process of the group is gone
    in time, else it lists them, kills the group and returns False."""
    import signal

    for _ in range(2):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        if process_group_gone(process, 60):
            return True
    remaining = subprocess.run(["ps", "-o", "pid,stat,etime,args", "-g", str(process.pid)],
                               capture_output=True, text=True).stdout
    print(f"still running after two Ctrl-C:\n{remaining}")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return False


def test_the_readmes_dagster_home_runs_one_run_at_a_time(tmp_path):
    """The README's step 1 gives $DAGSTER_HOME the dagster.yaml of deploy/: an instance made from it
    queues each run past the first. With an empty one, Dagster started ten runs at once: the sensor
    asks for every waiting day at once, and each run's process only waited for the warehouse's lock
    (an audit: 7 days, 4.7 GB). Run again, the command leaves an operator's own file alone and
    fills an empty one (a home set up before)."""
    from dagster import DagsterInstance

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [command] = re.findall(r"`(mkdir -p \.dagster_home && [^`]*?) && export DAGSTER_HOME=[^`]*`", readme)
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    settings = tmp_path / ".dagster_home" / "dagster.yaml"
    shipped = (REPO / "deploy" / "dagster.yaml").read_text()

    def step_one() -> str:
        subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
        return settings.read_text()

    assert step_one() == shipped and step_one() == shipped
    with DagsterInstance.from_config(str(settings.parent)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        # a run stuck "starting" (its process killed first) is failed after a while, not held for good
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
    settings.write_text("")
    assert step_one() == shipped
    settings.write_text("telemetry:\n  enabled: false\n")
    assert step_one() == "telemetry:\n  enabled: false\n"


# Started as a terminal starts it, SIGINT at its default: a suite started with SIGINT ignored (in
# the background of a non-interactive shell) passes that on, and dagster dev's Python processes then
# ignore Ctrl-C (its process group stayed up after a second one).
@pytest.mark.slow
def test_dagster_dev_as_the_readme_runs_it(tmp_path):
    """`.venv/bin/dagster dev` from the repo, venv not activated, DAGSTER_HOME set: the code location
    loads with every asset, check, the schedule and the sensor (stopped until turned on);
    `dagster schedule start` turns the schedule on; a CLI refresh shows in the same run history."""
    venv_bin = Path(sys.executable).parent
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home)  # the README's step 1
    env = user_environment(home, tmp_path)
    # the README's step 1: the new folder's storage created once, before two processes could at once
    migrate = subprocess.run([str(venv_bin / "dagster"), "instance", "migrate"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    write_single_day(tmp_path / "exports")
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(venv_bin / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=as_in_a_terminal)
    stopped_cleanly = False
    try:
        # a refresh from the command line meanwhile, in the same shell (same DAGSTER_HOME)
        refresh = subprocess.run([str(venv_bin / "assistant-analytics"), "refresh", "--all"], cwd=tmp_path,
                                 env=env, capture_output=True, text=True, timeout=600)
        assert refresh.returncode == 0, refresh.stderr
        assert "No dagster instance configuration file" not in refresh.stderr, refresh.stderr
        wait_for_location(port, process, log)

        nodes = graphql(port, ASSETS_QUERY)["assetNodes"]
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        models = {f"{p.parent.name}/{p.stem}" for p in (REPO / "dbt_project" / "models").rglob("*.sql")}
        assert {"raw/events", "raw/rejected_lines", "serving/warehouse", "marts/fct_chats"} <= keys
        assert models <= keys, sorted(models - keys)
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert by_key["raw/events"]["isPartitioned"] and by_key["marts/fct_chats"]["isPartitioned"]
        checks = {key: {c["name"] for c in n["assetChecksOrError"].get("checks", [])} for key, n in by_key.items()}
        assert "rejected_share_under_threshold" in checks["raw/rejected_lines"]
        assert "exports_are_fresh" in checks["raw/export_days"]
        assert "fct_users_one_row_per_user_channel_day" in checks["marts/fct_users"], checks["marts/fct_users"]
        assert not any(name.startswith("not_null_") or name.endswith("_not_null")
                       for names in checks.values() for name in names)

        automation = graphql(port, AUTOMATION_QUERY, {"repo": REPOSITORY})
        schedules = {s["name"]: s for s in automation["schedulesOrError"]["results"]}
        sensors = {s["name"]: s for s in automation["sensorsOrError"]["results"]}
        recorders = {"record_run_started", "record_run_succeeded", "record_run_failed", "record_run_canceled"}
        watchers = {*recorders, "fail_runs_whose_process_is_gone"}
        assert set(schedules) == {"nightly_refresh"} and set(sensors) == {"new_or_redelivered_export_days", *watchers}
        assert schedules["nightly_refresh"]["cronSchedule"] == "30 2 * * *"
        # stopped until a deployment turns them on (README "Run it nightly")
        assert schedules["nightly_refresh"]["scheduleState"]["status"] == "STOPPED"
        assert sensors["new_or_redelivered_export_days"]["sensorState"]["status"] == "STOPPED"
        # what only records runs for `status`, or fails a run whose process is gone, is on from the start
        assert {sensors[name]["sensorState"]["status"] for name in watchers} == {"RUNNING"}

        # the README's way of turning the schedule on, from another shell
        started = subprocess.run([str(venv_bin / "dagster"), "schedule", "start", "nightly_refresh"], cwd=REPO,
                                 env=env, capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stdout + started.stderr
        automation = graphql(port, AUTOMATION_QUERY, {"repo": REPOSITORY})
        assert automation["schedulesOrError"]["results"][0]["scheduleState"]["status"] == "RUNNING"

        runs = graphql(port, RUNS_QUERY)["runsOrError"]["results"]
        assert [(r["jobName"], r["status"]) for r in runs] == [("refresh", "SUCCESS")], runs
        tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
        assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == (DAY, DAY)

        # A run the `dagster` command line executes in a process of its own has no code location:
        # `status` shows it all the same (here a day without its folder, so it fails in its load).
        missing = (dt.date.fromisoformat(DAY) - dt.timedelta(days=1)).isoformat()
        executed = subprocess.run([str(venv_bin / "dagster"), "job", "execute", "-m", "orchestration.definitions",
                                   "-j", "refresh", "--tags", f'{{"dagster/partition": "{missing}"}}'],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert executed.returncode != 0 and "not found: no folder" in executed.stdout + executed.stderr
        deadline, last = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            status = subprocess.run([str(venv_bin / "assistant-analytics"), "status", "--format", "json"],
                                    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            last = json.loads(status.stdout)["last_refresh"]
            if last["days"] == [missing] and last["outcome"] == "failed":
                break
            time.sleep(2)
        assert (last["days"], last["outcome"]) == ([missing], "failed"), last
        assert f"export day {missing} not found: no folder" in last["error"], last
    finally:
        stopped_cleanly = stop_group(process)
    assert stopped_cleanly, f"dagster dev did not stop on Ctrl-C:\n{log.read_text()[-3000:]}"


def test_the_recorders_take_the_runs_of_these_definitions_from_anywhere_and_no_other_projects():
    """The recording sensors watch every code location, to see the runs the `dagster` command line
    executes in a process of its own (no code location): a run of another project's definitions in
    the same Dagster instance is not a refresh of this warehouse."""
    from dagster import DagsterRun
    from dagster._core.code_pointer import FileCodePointer, ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin

    from orchestration.defs.sensors import runs_these_definitions

    def run_of(pointer) -> DagsterRun:
        origin = None if pointer is None else JobPythonOrigin("refresh", RepositoryPythonOrigin(sys.executable,
                                                                                                pointer))
        return DagsterRun(job_name="refresh", job_code_origin=origin)

    assert runs_these_definitions(run_of(None))  # run in the caller's own process
    assert runs_these_definitions(run_of(ModuleCodePointer("orchestration.definitions", "defs", str(REPO))))
    assert runs_these_definitions(run_of(FileCodePointer("orchestration/definitions.py", "defs", str(REPO))))
    assert not runs_these_definitions(run_of(ModuleCodePointer("another_project.definitions", "defs", "/srv")))
    assert not runs_these_definitions(run_of(FileCodePointer("definitions.py", "defs", "/srv/another")))


def test_cli_run_history_defaults_to_the_clones_dagster_home(tmp_path, monkeypatch):
    """Without DAGSTER_HOME, a CLI refresh records its runs in the clone's .dagster_home when that
    folder exists (README "Run it nightly"), else nowhere on disk."""
    import orchestration.settings
    from orchestration.cli.refresh import _instance
    from orchestration.errors import UserError

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(orchestration.settings, "PROJECT_ROOT", tmp_path)
    assert _instance().is_ephemeral
    (tmp_path / ".dagster_home").mkdir()
    instance = _instance()
    assert not instance.is_ephemeral and Path(instance.root_directory) == tmp_path / ".dagster_home"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(elsewhere))
    assert Path(_instance().root_directory) == elsewhere
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="DAGSTER_HOME"):
        _instance()


def _event_log_connections(monkeypatch, base: Path) -> list[str]:
    """The SQLite connections opened from now on to the event log files in `base`, by path."""
    from sqlite3 import dbapi2  # what SQLAlchemy's SQLite dialect connects with

    opened, connect = [], dbapi2.connect

    def counting(database, *args, **kwargs):
        if Path(database).parent == base:
            opened.append(str(database))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(dbapi2, "connect", counting)
    return opened


@pytest.mark.parametrize("dagster_yaml", ["", (REPO / "deploy" / "dagster.yaml").read_text()],
                         ids=["no dagster.yaml", "deploy's dagster.yaml"])
def test_a_cli_run_keeps_its_connection_to_each_file_of_dagsters_default_storage(tmp_path, monkeypatch, dagster_yaml):
    """On Dagster's default storage, the CLI's instance writes a run's events through a connection it
    keeps per file (cli/run_history.py), not one per write as Dagster's own does; a run's file is closed
    when the next run starts and every file when the instance is disposed, so no write-ahead log is
    left beside it; what it wrote is what Dagster's own storage reads (`dagster dev`'s)."""
    from dagster import AssetKey, DagsterEventType, DagsterInstance, asset, materialize
    from dagster._core.instance.ref import InstanceRef

    from orchestration.cli.refresh import _instance

    if dagster_yaml:
        (tmp_path / "dagster.yaml").write_text(dagster_yaml)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))

    @asset
    def counted():
        return 1

    runs_folder = tmp_path / "history" / "runs"
    instance = _instance()
    opened = _event_log_connections(monkeypatch, runs_folder)
    results = [materialize([counted], instance=instance) for _ in range(3)]
    per_file = collections.Counter(Path(p).name for p in opened)
    logs_open = sorted(p.name for p in runs_folder.glob("*.db-wal"))
    instance.dispose()
    # a run's file: opened once and kept, and once more while Dagster sets it up (then closed)
    run_files = [f"{r.run_id}.db" for r in results]
    assert {name: per_file[name] for name in run_files} == dict.fromkeys(run_files, 2), per_file
    # open while the instance lives: the index and the last run's file only
    assert logs_open == sorted(["index.db-wal", f"{results[-1].run_id}.db-wal"])
    assert not list(runs_folder.glob("*-wal")), "a file left with its write-ahead log after dispose"

    # Dagster's own storage (no CLI class) reads the runs and the materializations
    monkeypatch.undo()
    plain = DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path)))
    try:
        assert type(plain.event_log_storage).__module__.startswith("dagster.")
        assert [r.run_id for r in plain.get_runs()] == [r.run_id for r in reversed(results)]
        event = plain.get_latest_materialization_event(AssetKey("counted"))
        assert event is not None and event.run_id == results[-1].run_id
        for result in results:  # each run whole, to its end
            logged = [e.dagster_event_type for e in plain.all_logs(result.run_id) if e.is_dagster_event]
            assert len(logged) >= 10 and logged[-1] == DagsterEventType.RUN_SUCCESS
            assert DagsterEventType.ASSET_MATERIALIZATION in logged
    finally:
        plain.dispose()


@pytest.mark.slow
def test_a_cli_refresh_leaves_its_run_history_whole_in_dagsters_files(tmp_path):
    """A CLI refresh on the README's nightly set-up (deploy's dagster.yaml: Dagster's SQLite storage)
    ends with its run's events in the run's own file, no write-ahead log left beside any file (a copy
    of the .db files holds the whole history), and Dagster's own storage reads the run and its
    materializations."""
    import sqlite3

    from dagster import AssetKey, DagsterInstance, DagsterRunStatus
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home)
    write_single_day(tmp_path / "exports")
    env = user_environment(home, tmp_path)
    refresh = subprocess.run([str(Path(sys.executable).parent / "assistant-analytics"), "refresh", "--day", DAY],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert refresh.returncode == 0, refresh.stderr
    runs_folder = home / "history" / "runs"
    assert not list(runs_folder.glob("*-wal")), sorted(p.name for p in runs_folder.iterdir())

    plain = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        (run,) = plain.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        assert (run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]) == (DAY, DAY)
        event = plain.get_latest_materialization_event(AssetKey(["marts", "fct_chats"]))
        assert event is not None and event.run_id == run.run_id
    finally:
        plain.dispose()
    copy = tmp_path / "copy.db"
    shutil.copy(runs_folder / f"{run.run_id}.db", copy)  # the file alone, as a backup of *.db takes it
    conn = sqlite3.connect(copy)
    try:
        stored = conn.execute("select count(*), max(dagster_event_type) filter (where dagster_event_type = "
                              "'PIPELINE_SUCCESS') from event_logs").fetchone()
    finally:
        conn.close()
    assert stored[0] >= 100 and stored[1] == "PIPELINE_SUCCESS", stored


# The source of Dagster's SqliteEventLogStorage._connect that cli/run_history.py's override was
# written against (Dagster 1.13): a Dagster whose method differs gets run_history.py read again.
REVIEWED_DAGSTER_CONNECT_DIGEST = "b8435f2665689760"


def test_the_overridden_dagster_method_is_the_one_reviewed():
    import hashlib
    import inspect

    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    source = inspect.getsource(SqliteEventLogStorage._connect)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == REVIEWED_DAGSTER_CONNECT_DIGEST, (
        "Dagster's SqliteEventLogStorage._connect changed: read orchestration/cli/run_history.py's "
        f"override against it, then set this digest:\n{source}")


@pytest.mark.parametrize("dagster_yaml, storage", [
    ("storage:\n  sqlite:\n    base_dir: {home}/elsewhere\n", "CliSqliteStorage"),
    ("storage:\n  postgres:\n    postgres_url: postgresql://u:p@db:5432/dagster\n", "DagsterPostgresStorage"),
    ("event_log_storage:\n  module: dagster._core.storage.event_log\n  class: ConsolidatedSqliteEventLogStorage\n"
     "  config:\n    base_dir: {home}/events\n", "CompositeStorage"),
], ids=["sqlite named", "postgres", "per-storage settings"])
def test_the_cli_keeps_connections_only_on_dagsters_sqlite_storage(tmp_path, dagster_yaml, storage):
    """Dagster's SQLite storage, named or by default, gets the CLI's class in the folder it names;
    a dagster.yaml that names another storage keeps it as configured."""
    from dagster._core.instance.ref import InstanceRef

    from orchestration.cli.run_history import with_kept_connections

    (tmp_path / "dagster.yaml").write_text(dagster_yaml.format(home=tmp_path))
    ref = with_kept_connections(InstanceRef.from_dir(str(tmp_path)))
    assert ref.storage_data.class_name == storage
    if storage == "CliSqliteStorage":
        from dagster import DagsterInstance

        instance = DagsterInstance.from_ref(ref)
        try:
            assert type(instance.event_log_storage).__name__ == "KeptConnectionSqliteEventLogStorage"
            assert Path(instance.event_log_storage._base_dir) == tmp_path / "elsewhere" / "history" / "runs"
        finally:
            instance.dispose()


def test_dagsters_export_days_are_the_loaders_from_the_first_day_to_tomorrow():
    """A folder dated tomorrow (UTC) is an export day for `refresh` (load/exports.py); Dagster's
    partitions must have it too, else the sensor's tick fails on it (DagsterUnknownPartitionError)."""
    from orchestration.defs.partitions import export_day_partitions
    from orchestration.load.exports import is_partition_day
    from orchestration.settings import first_export_day

    today = dt.datetime.now(dt.UTC).date()
    first = first_export_day()
    for day in (first - dt.timedelta(days=1), first, today - dt.timedelta(days=1), today,
                today + dt.timedelta(days=1), today + dt.timedelta(days=2)):
        assert export_day_partitions.has_partition_key(day.isoformat()) == is_partition_day(day), day
    assert export_day_partitions.get_last_partition_key() == (today + dt.timedelta(days=1)).isoformat()


def test_a_run_of_some_dbt_models_only_stops_before_dbt_naming_what_it_left_out(single):
    """One mart picked in the UI's asset graph: the dbt build would recompute it alone, then clear the
    pending users, leaving every other model out of step with raw for good."""
    from dagster import AssetKey, DagsterInstance, materialize

    from orchestration.defs.assets import published_warehouse, raw_exports, warehouse_dbt_models

    published = single.warehouse.read_bytes()
    result = materialize(
        [raw_exports, warehouse_dbt_models, published_warehouse],
        selection=[AssetKey(["marts", "fct_clicks"])],
        partition_key=DAY,
        resources={"warehouse": warehouse_resource(single.root), "dbt": dbt_resource()},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    errors = error_messages(result)
    assert "the dbt models are built together or not at all: this run leaves out" in errors, errors
    assert "marts/fct_chats" in errors or " ..." in errors
    assert single.warehouse.read_bytes() == published


def test_the_dbt_step_takes_every_model_or_stops_naming_why():
    """The guard the dbt step runs first (a run of one mart: the test above, through Dagster), on the
    selections Dagster's UI can make: every model (the jobs), some, or none (its "Execute checks",
    whose run Dagster cannot build outside a job with a partitioned asset's checks alone)."""
    from orchestration.defs.assets import _check_the_whole_build, warehouse_dbt_models
    from orchestration.errors import UserError

    every = set(warehouse_dbt_models.keys)
    _check_the_whole_build(SimpleNamespace(selected_asset_keys=every))
    with pytest.raises(UserError, match="executes the dbt models' checks without building the models"):
        _check_the_whole_build(SimpleNamespace(selected_asset_keys=set()))
    one = {next(iter(every))}
    with pytest.raises(UserError, match=f"this run leaves out {len(every) - 1} of them"):
        _check_the_whole_build(SimpleNamespace(selected_asset_keys=one))


def test_a_run_of_the_dbt_checks_alone_is_told_why_it_cannot_run_with_or_without_a_partition(tmp_path):
    """An audit: "Execute checks" on a dbt check, launched without a partition, was told to launch it
    with one; with one, it was then told that the checks run only with a build. It is told that first."""
    from orchestration.defs.assets import _check_the_dbt_run
    from orchestration.errors import UserError

    for partitioned in (False, True):
        checks_alone = SimpleNamespace(selected_asset_keys=set(), has_partition_key=partitioned,
                                       has_partition_key_range=False, run=SimpleNamespace(job_name="__ASSET_JOB"))
        with pytest.raises(UserError, match="^this run executes the dbt models' checks without building the models"):
            _check_the_dbt_run(checks_alone, warehouse_resource(tmp_path))


def test_a_dagster_step_waiting_for_the_warehouses_lock_says_so_in_its_runs_log(tmp_path, monkeypatch):
    """An audit: a run from the UI whose checks waited for a CLI refresh's lock showed only slow steps
    (the CLI says it waits, the run's log said nothing). The dbt and publish steps and the checks
    take the lock through the resource, which says the wait in the run's log."""
    import fcntl
    import threading

    from orchestration.settings import lock_path_for

    monkeypatch.setenv("ANALYTICS_LOCK_TIMEOUT_SECONDS", "30")
    resource = warehouse_resource(tmp_path)
    other = os.open(lock_path_for(resource.warehouse), os.O_RDWR | os.O_CREAT, 0o644)  # another refresh's
    fcntl.flock(other, fcntl.LOCK_EX)
    released = threading.Timer(1.5, lambda: os.close(other))
    released.start()
    logged: list[str] = []
    try:
        with resource.refresh_lock(logged.append):
            pass
    finally:
        released.join()
    assert logged == [f"another refresh of {resource.warehouse} is running: waiting for it to finish (up to 30s, "
                      "ANALYTICS_LOCK_TIMEOUT_SECONDS)"]


def test_a_publish_after_a_later_load_for_a_full_rebuild_publishes_nothing(tmp_path):
    """A load for a full rebuild (a run from the UI or a backfill with full_refresh) marks no user
    pending, only the full rebuild owed: between another run's dbt build and its publish, that
    publish put out the new day's raw rows without its marts."""
    from orchestration.build.refresh_state import clear_pending, mark_full_refresh_owed
    from orchestration.errors import UnfinishedBuildError
    from orchestration.load.raw import ensure_raw_schema
    from orchestration.publish.publish import publish
    from orchestration.settings import build_path_for

    warehouse = tmp_path / "warehouse.duckdb"
    build = build_path_for(warehouse)
    with duckdb.connect(str(build)) as conn:
        ensure_raw_schema(conn)
    mark_full_refresh_owed(build)
    with pytest.raises(UnfinishedBuildError, match="owes a full rebuild from a later load"):
        publish(warehouse)
    assert not warehouse.exists()
    clear_pending(build, "seeds")  # the full rebuild done
    publish(warehouse)
    assert warehouse.exists()


@pytest.mark.slow  # a Dagster run, in process
def test_a_publish_that_finds_a_later_loads_users_pending_succeeds_without_publishing(tmp_path):
    """Runs from Dagster take the lock per step: another run may load a day between this run's dbt
    build and its publish. This run's work is in the build file, published with that run's: its
    publish step says so and succeeds, with no materialization (it failed the run, an alert for
    nothing), and the published file is left as it was."""
    from dagster import DagsterInstance, materialize

    from orchestration.defs.assets import published_warehouse
    from orchestration.load.raw import ensure_raw_schema
    from orchestration.settings import build_path_for

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        ensure_raw_schema(conn)
    shutil.copyfile(warehouse, build_path_for(warehouse))
    with duckdb.connect(str(build_path_for(warehouse))) as conn:
        conn.execute("insert into raw.pending_users values (date '2026-11-23', 'acme-support', 'u1')")
    before = warehouse.read_bytes()
    instance = DagsterInstance.ephemeral()
    result = materialize([published_warehouse], partition_key=DAY, instance=instance,
                         resources={"warehouse": warehouse_resource(tmp_path)})
    assert result.success, error_messages(result)
    assert result.asset_materializations_for_node("published_warehouse") == []
    assert warehouse.read_bytes() == before
    assert "not published by this run: the build file has 1 pending users from a later load" in \
        run_logs(instance, result.run_id)


@pytest.mark.slow  # a Dagster run, in process
def test_a_damaged_block_of_the_build_file_met_by_the_publish_is_the_damaged_build_files_line(tmp_path):
    """A refresh killed after dbt wrote leaves changes in the build file's write-ahead log; a
    damaged block that only the publish meets (replaying that log, or its checkpoint) failed every
    refresh with DuckDB's bare "FATAL Error: Failed to create checkpoint" line, naming neither the
    file nor the remedy. It is the damaged build file's one line, as a load's is."""
    from dagster import DagsterInstance, materialize

    from orchestration.build.build_file import STORAGE_VERSION
    from orchestration.defs.assets import published_warehouse
    from orchestration.load.raw import ensure_raw_schema
    from orchestration.settings import build_path_for

    warehouse, build = tmp_path / "warehouse.duckdb", build_path_for(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse), config={"storage_compatibility_version": STORAGE_VERSION}) as conn:
        ensure_raw_schema(conn)
        conn.execute("create table t as select i, md5(i::varchar) as m from range(300000) r(i)")
    shutil.copyfile(warehouse, build)
    conn = duckdb.connect(str(build))
    conn.execute("pragma disable_checkpoint_on_shutdown")  # as a killed refresh leaves it
    conn.execute("update t set m = 'x' where i % 7 = 0")
    conn.close()
    with open(build, "r+b") as file:
        file.seek(3 * 4096 + 256 * 1024 + 8)  # inside a block of t, past its checksum
        file.write(b"\xa5" * 64)
    instance = DagsterInstance.ephemeral()
    result = materialize([published_warehouse], partition_key=DAY, instance=instance, raise_on_error=False,
                         resources={"warehouse": warehouse_resource(tmp_path)})
    assert not result.success
    message = error_messages(result)
    assert f"UserError: the build file {build} is damaged (" in message, message
    assert "delete it and refresh again" in message and "FATAL" not in message, message


def test_a_dagster_run_refuses_a_warehouse_dbt_cannot_name_before_it_loads(defs, tmp_path, monkeypatch):
    """A run from Dagster (the schedule, the sensor, the UI) checks the warehouse's name as the CLI
    does: one with `#` in its path reached dbt's SQL under another database name than DuckDB's,
    and failed after the load with dbt's "Runtime Error" (a quote: a broken SQL statement)."""
    from dagster import DagsterInstance

    root = tmp_path / "no#1"
    root.mkdir()
    set_paths(monkeypatch, root)
    write_single_day(root / "exports")
    job = defs.resolve_job_def("refresh")
    result = job.execute_in_process(partition_key=DAY, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "raw_exports", failure.step_key
    assert "cannot be built by dbt" in failure.event_specific_data.error.to_string()
    assert sorted(p.name for p in root.iterdir()) == ["exports"]  # nothing loaded, no build file


@pytest.mark.slow  # a Dagster run, in process
def a_warehouse_to_record(tmp_path: Path, monkeypatch) -> Path:
    """A warehouse with raw's tables and an exports folder, the settings' paths: where the recording
    sensors write a run's record (for runs whose config names no warehouse)."""
    from orchestration.load.raw import ensure_raw_schema

    set_paths(monkeypatch, tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        ensure_raw_schema(conn)
    (tmp_path / "exports").mkdir()
    return warehouse


def test_runs_from_dagster_are_recorded_for_status_and_cli_ones_left_to_the_cli(defs, tmp_path, monkeypatch):
    """The record `status` shows as the last refresh is written for a run from Dagster (the schedule's,
    the sensor's, the UI's) by its run status sensors: here a run that fails (its day has no folder),
    with its days, times and one-line error; the sensor that sees the run start, ticking after the
    one that saw it end, leaves the end recorded. A CLI run is left to the CLI's own record."""
    from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

    from orchestration.defs.jobs import CLI_TRIGGER, TRIGGER_TAG
    from orchestration.defs.sensors import record_run_failed, record_run_started
    from orchestration.serve.status import collect_status, record_path_for

    warehouse = a_warehouse_to_record(tmp_path, monkeypatch)
    instance = DagsterInstance.ephemeral()
    job = defs.resolve_job_def("refresh")

    def failed_run(tags: dict):
        result = job.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False, tags=tags)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        event = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
        started = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_START)
        return run, event, started

    run, failure, start = failed_run({})
    context = build_run_status_sensor_context(sensor_name="record_run_failed", dagster_event=failure,
                                              dagster_instance=instance, dagster_run=run).for_run_failure()
    record_run_failed(context)
    build_context = build_run_status_sensor_context(sensor_name="record_run_started", dagster_event=start,
                                                    dagster_instance=instance, dagster_run=run)
    record_run_started(build_context)
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert (last["outcome"], last["days"], last["full"], last["run_id"]) == ("failed", [DAY], False, run.run_id), last
    assert last["error"].startswith(f"raw_exports: export day {DAY} not found: no folder "
                                    f"{tmp_path / 'exports' / f'dt={DAY}'}"), last["error"]
    assert last["seconds"] is not None and last["finished_at"] >= last["started_at"]

    record_path_for(warehouse).unlink()
    run, failure, _ = failed_run({TRIGGER_TAG: CLI_TRIGGER})
    record_run_failed(build_run_status_sensor_context(sensor_name="record_run_failed", dagster_event=failure,
                                                      dagster_instance=instance, dagster_run=run).for_run_failure())
    assert not record_path_for(warehouse).exists()

    # assets materialized from the UI's asset graph run as Dagster's implicit asset job: recorded too
    job = defs.resolve_implicit_global_asset_job_def()
    run, failure, _ = failed_run({})
    assert run.job_name == "__ASSET_JOB"
    record_run_failed(build_run_status_sensor_context(sensor_name="record_run_failed", dagster_event=failure,
                                                      dagster_instance=instance, dagster_run=run).for_run_failure())
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert (last["outcome"], last["days"], last["run_id"]) == ("failed", [DAY], run.run_id), last

    # but not the UI's "Execute checks" (an audit: it became the last refresh, "succeeded, no export
    # day" although its check had failed): the implicit job with checks and no asset refreshes nothing
    from dagster import AssetCheckKey, AssetKey

    check = AssetCheckKey(AssetKey(["raw", "rejected_lines"]), "rejected_share_under_threshold")
    for selection in (frozenset(), None):
        checks_alone = run._replace(run_id=f"checks-alone-{selection is None}", asset_selection=selection,
                                    asset_check_selection=frozenset({check}))
        record_run_failed(build_run_status_sensor_context(
            sensor_name="record_run_failed", dagster_event=failure, dagster_instance=instance,
            dagster_run=checks_alone).for_run_failure())
        assert collect_status(warehouse, tmp_path / "exports")["last_refresh"]["run_id"] == run.run_id


def test_a_run_killed_outright_is_recorded_with_the_signal_that_ended_it(tmp_path, monkeypatch):
    """An audit: a run whose process was killed (SIGKILL) was recorded for `status` with Dagster's
    "marked as failed from outside the execution context", while Dagster's event just before it
    said what happened. That event's line is recorded now."""
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, build_run_status_sensor_context
    from dagster._core.test_utils import create_run_for_test

    from orchestration.defs.sensors import record_run_failed
    from orchestration.serve.status import collect_status

    warehouse = a_warehouse_to_record(tmp_path, monkeypatch)
    instance = DagsterInstance.ephemeral()
    run = create_run_for_test(instance, job_name="refresh", status=DagsterRunStatus.STARTED,
                              tags={"dagster/partition": DAY})
    # as Dagster's code server and run monitoring write them
    instance.report_engine_event(f"[DagsterApiServer] Run execution process for {run.run_id} was terminated by "
                                 "signal 9 (SIGKILL). This usually indicates that the process was killed by the "
                                 "operating system due to running out of memory.", run)
    instance.report_run_failed(run, "This run has been marked as failed from outside the execution context.")
    failure = next(entry.dagster_event for entry in instance.all_logs(run.run_id)
                   if entry.dagster_event and entry.dagster_event.event_type == DagsterEventType.RUN_FAILURE)
    record_run_failed(build_run_status_sensor_context(
        sensor_name="record_run_failed", dagster_event=failure, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id)).for_run_failure())
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert (last["outcome"], last["days"]) == ("failed", [DAY]), last
    assert last["error"] == f"Run execution process for {run.run_id} was terminated by signal 9 (SIGKILL)"


def test_a_runs_reason_to_rebuild_every_model_is_in_its_dagster_log(tmp_path, monkeypatch):
    """A run from Dagster that rebuilds every model after an upgrade or an edited seed said why only
    on the CLI's terminal (progress), so the run's log showed `--full-refresh` without a reason.
    The dbt asset plans its build through _planned_build, which reports into the run's log too:
    here on a build file whose models were built with other seeds."""
    import duckdb

    from orchestration.build import progress
    from orchestration.defs.assets import _planned_build
    from orchestration.settings import build_path_for

    monkeypatch.delenv("ANALYTICS_ENGINE", raising=False)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(build_path_for(warehouse))) as conn:
        conn.execute("create schema marts; create table marts.fct_chats (x int); create schema raw; "
                     "create table raw.built_with_seeds (fingerprint varchar); "
                     "insert into raw.built_with_seeds values ('seeds of another deployment')")
    logged: list[str] = []
    context = SimpleNamespace(log=SimpleNamespace(info=logged.append))
    plan = _planned_build(context, warehouse_resource(tmp_path), full_refresh=False)
    assert plan.full and "--full-refresh" in plan.args
    assert any("rebuilding every model" in line for line in logged), logged
    progress.report("after the build's plan")
    assert "after the build's plan" not in logged


def test_a_runs_load_says_each_days_counts_in_its_dagster_log(single):
    assert re.search(rf"loaded export day {DAY} \(1/1\): \d+ lines, \d+ rejected, \d+ duplicates", single.logs), \
        single.logs[-3000:]


def _sensor_tick(defs, root: Path, cursor: str | None = None, instance=None):
    from dagster import DagsterInstance, build_sensor_context

    context = build_sensor_context(instance=instance or DagsterInstance.ephemeral(), definitions=defs,
                                   cursor=cursor, resources={"warehouse": warehouse_resource(root)})
    return defs.resolve_sensor_def("new_or_redelivered_export_days").evaluate_tick(context)


def test_a_day_the_sensor_cannot_read_holds_back_no_other_day(defs, tmp_path, monkeypatch):
    """One day folder that cannot be read (its permissions; a file removed between the listing and
    its stat) failed the whole tick, so no other day was asked for. Now it is named in the tick's
    log and its skip reason, and the other days are asked for."""
    from orchestration.defs import sensors
    from orchestration.load.exports import unreadable

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    write_single_day(tmp_path / "exports", "2026-11-23")
    write_single_day(tmp_path / "exports", "2026-11-24")
    listed = sensors.export_files

    def export_files(folder: Path):
        if folder.name == "dt=2026-11-23":
            raise unreadable("the export day folder", folder, PermissionError(13, "Permission denied"))
        return listed(folder)

    monkeypatch.setattr(sensors, "export_files", export_files)
    tick = _sensor_tick(defs, tmp_path)
    assert [r.partition_key for r in tick.run_requests] == ["2026-11-24"]
    from orchestration.load.exports import fingerprint

    # 2026-11-24 loaded since: the tick asks for nothing, and says why 2026-11-23 waits
    monkeypatch.setattr(sensors, "loaded_fingerprints", lambda warehouse: {
        "2026-11-24": fingerprint(tmp_path / "exports" / "dt=2026-11-24")})
    tick = _sensor_tick(defs, tmp_path)
    assert not tick.run_requests
    assert "cannot be read now" in tick.skip_message and "2026-11-23" in tick.skip_message, tick.skip_message


def test_files_with_a_time_ahead_of_the_clock_settle_by_the_sensors_clock(defs, tmp_path, monkeypatch):
    """A day whose files carry a modification time ahead of the sensor's clock (a writer's clock
    ahead, a copy that kept a future time) waited as "still being written" until the clock caught
    up. Now such files settle once the sensor has seen them unchanged for the settle time."""
    from orchestration.defs import sensors

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "60")
    write_single_day(tmp_path / "exports", "2026-11-23")
    folder = tmp_path / "exports" / "dt=2026-11-23"
    ahead = time.time() + 3 * 3600
    for path in folder.iterdir():
        os.utime(path, (ahead, ahead))
    os.utime(folder, (time.time() - 600, time.time() - 600))
    first = _sensor_tick(defs, tmp_path)
    assert not first.run_requests and "still being written: 2026-11-23" in first.skip_message
    clock = time.time() + 61
    monkeypatch.setattr(sensors.time, "time", lambda: clock)
    later = _sensor_tick(defs, tmp_path, cursor=first.cursor)
    assert [r.partition_key for r in later.run_requests] == ["2026-11-23"]
    # files changed since the first sight (same future time, another size) wait again
    with open(folder / "part-0000.jsonl", "a") as f:
        f.write("\n")
    os.utime(folder / "part-0000.jsonl", (ahead, ahead))
    changed = _sensor_tick(defs, tmp_path, cursor=first.cursor)
    assert not changed.run_requests and "still being written: 2026-11-23" in changed.skip_message


def test_a_retry_is_asked_for_under_a_key_not_used_before(defs, tmp_path, monkeypatch):
    """The sensor reads a day's newest 100 runs: a retry numbered by their count repeated a key
    used before once the first attempts were past them, and Dagster passes a used key by."""
    from dagster import DagsterInstance, DagsterRunStatus

    from orchestration.defs import sensors

    monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "0")
    monkeypatch.setattr(sensors, "RETRY_FAILED_AFTER_SECONDS", 0)
    write_single_day(tmp_path / "exports", DAY)
    instance = DagsterInstance.ephemeral()
    [key] = [r.run_key for r in _sensor_tick(defs, tmp_path, instance=instance).run_requests]
    for attempt in (f"{key}:1", f"{key}:2"):  # the first attempt's own record is past those read
        _attempt(instance, DAY, attempt, DagsterRunStatus.FAILURE)
    assert [r.run_key for r in _sensor_tick(defs, tmp_path, instance=instance).run_requests] == [f"{key}:3"]
