"""The warehouse on Spark (docs/spark.md): `ANALYTICS_ENGINE=spark assistant-analytics demo`, run as a
user runs it (the venv's CLI, a subprocess), must pass its dbt tests on a local Spark, publish the
same rows as the DuckDB demo in every mart and intermediate table, and print the same report.

One Spark demo serves every test here (a Spark build costs minutes on two cores). The Spark
workspace's published file holds Spark's tables, copied from their Parquet files
(orchestration/build/spark_models.py); the tests check that copy against the Parquet files too. Two
columns differ between any two refreshes and are left out: refreshed_at (the run's stamp) and
loaded_at (the load's clock); every other column must be equal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import gzip
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import duckdb
import pytest
from conftest import CLI, Workspace, environment_without_settings, slow_fixture, write_export
from ua_parser import parse

from orchestration.build.dbt_build import REVIEW_TESTS, ROUTINE_GENERIC_TESTS
from orchestration.build.dbt_project import refresh_target_path
from orchestration.build.spark_models import SPARK_ONLY_COLUMNS, import_spark_tables, table_files, table_folder
from orchestration.build.spark_session import (
    _DYNAMIC_ARCHIVE_MAGIC,
    FILE_SYSTEM_CLASS,
    _java_runtime,
    _spark_home,
    check_spark_dir,
    class_archive_options,
    class_archive_path,
    file_system_jar,
)
from orchestration.build.warm_dbt import _parent_of
from orchestration.errors import UserError
from orchestration.load.exports import day_folder, list_export_days
from orchestration.load.spark_load import DAY_TABLES
from orchestration.settings import build_path_for, spark_class_archive_dir, spark_dir_for, user_cache_dir

needs_spark = pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                                 reason="pyspark is not installed (pip extra `spark`, docs/spark.md)")

RUN_STAMPS = {"refreshed_at", "loaded_at"}
COMPARED_SCHEMAS = ("intermediate", "marts")
DEMO = ("demo", "--days", "2", "--format", "json")
# The users the last refresh recomputed: a refresh's work queue, not a result (a full rebuild of
# nothing pending leaves it empty).
WORK_QUEUES = ("int_users_affected",)


@pytest.fixture(scope="module")
@slow_fixture
def demo(module_workspace: Workspace) -> Workspace:
    proc = module_workspace.cli(*DEMO)
    module_workspace.demo_stdout, module_workspace.demo_stderr = proc.stdout, proc.stderr
    return module_workspace


class SparkStarts:
    """The Spark drivers (a `java` running SparkSubmit) that the `with` sees running for a Spark
    folder: its path is in their command line (profiles.yml: Derby's home). Not drivers: the
    scripts and the short launcher JVM that start one (spark-class), and a driver's own forks
    (their command line is the driver's until they exec). Polled: a driver lives for a whole load
    or build, seconds at least."""

    def __init__(self, spark_dir: Path) -> None:
        self._marker = f"-Dderby.system.home={spark_dir}".encode()
        self._seen: dict[int, tuple[int, str]] = {}  # process id: its parent's id and command line
        self.arguments: dict[int, list[str]] = {}  # a driver's process id: its own arguments
        self._stop = threading.Event()

    def _looks_like_a_driver(self, argv: list[bytes]) -> bool:
        return (Path(argv[0].decode(errors="replace")).name == "java" and b"org.apache.spark.deploy.SparkSubmit" in argv
                and b"org.apache.spark.launcher.Main" not in argv and any(self._marker in a for a in argv))

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            for proc in Path("/proc").iterdir():
                try:
                    if not proc.name.isdigit() or int(proc.name) in self._seen:
                        continue
                    argv = (proc / "cmdline").read_bytes().split(b"\0")
                    if self._looks_like_a_driver(argv):
                        parent = _parent_of(int(proc.name))
                        if parent is None:
                            continue  # ended meanwhile
                        command = Path(f"/proc/{parent}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                        self._seen[int(proc.name)] = (parent, command[:200])
                        self.arguments[int(proc.name)] = [a.decode(errors="replace") for a in argv]
                except OSError:
                    continue  # ended meanwhile

    def class_archive_options(self) -> list[list[str]]:
        """Each driver's class-archive options (-XX:SharedArchiveFile=..., -XX:ArchiveClassesAtExit=...)."""
        return [[a for a in argv if a.startswith(("-XX:SharedArchiveFile=", "-XX:ArchiveClassesAtExit="))]
                for pid, argv in self.arguments.items() if pid in self.drivers]

    @property
    def drivers(self) -> dict[int, str]:
        """Each driver's process id: its parent's id and command line (which process started it)."""
        return {pid: f"{parent}: {command}" for pid, (parent, command) in self._seen.items()
                if parent not in self._seen}

    def __enter__(self) -> SparkStarts:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
@slow_fixture
def spark_demo(tmp_path_factory) -> Workspace:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (pip extra `spark`, docs/spark.md)")
    workspace = Workspace(tmp_path_factory.mktemp("spark_demo"))
    # every `chmod` the run starts (Hadoop runs the one on PATH) is written down
    shims = tmp_path_factory.mktemp("chmod_shim")
    workspace.chmod_log = shims / "chmod.log"
    (shims / "chmod").write_text(f'#!/bin/sh\necho "$*" >> {workspace.chmod_log}\nexec {shutil.which("chmod")} "$@"\n')
    (shims / "chmod").chmod(0o755)
    env = {"ANALYTICS_ENGINE": "spark", "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    with SparkStarts(spark_dir_for(workspace.warehouse.resolve())) as starts:
        workspace.demo_stdout = workspace.cli(*DEMO, env=env, timeout=3600).stdout
    workspace.spark_starts = starts.drivers
    workspace.spark_arguments = [starts.arguments[pid] for pid in starts.drivers]
    return workspace


def spark_files(workspace: Workspace, schema: str, table: str) -> list[str]:
    """The Parquet files of a Spark table (partitioned tables: user_bucket=<n>/ folders; an empty
    one: the empty file of its columns)."""
    return table_files(spark_dir_for(workspace.warehouse), schema, table)


def duckdb_tables(warehouse: Path) -> list[tuple[str, str]]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ? and table_type = 'BASE TABLE' order by all", [list(COMPARED_SCHEMAS)]).fetchall()
    finally:
        conn.close()


def normalised(value):
    """One value as both engines' types compare: instants in UTC, decimals and floats to 9 places."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, (decimal.Decimal, float)):
        return round(float(value), 9)
    return value


def columns_of(conn: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_catalog = ? and table_schema = ? "
        "and table_name = ? order by ordinal_position", [catalog, schema, table]).fetchall()]


def rows_of(conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[tuple]:
    select = ", ".join(f'"{c}"' for c in columns)
    rows = [tuple(normalised(v) for v in row) for row in conn.execute(f"select {select} from {relation}").fetchall()]
    return sorted(rows, key=repr)


@needs_spark
def test_spark_demo_prints_the_same_report_as_the_duckdb_demo(spark_demo: Workspace, demo: Workspace):
    spark_report, duckdb_report = json.loads(spark_demo.demo_stdout), json.loads(demo.demo_stdout)
    assert spark_report == duckdb_report
    assert duckdb_report  # a report with numbers, not an empty one (test_report_kpis checks them)


def json_values(rows: list[tuple], columns: list[str]) -> list[tuple]:
    """Rows with raw.events' properties as JSON values (the engines write the same object with other
    spacing and key order), sorted."""
    if "properties" not in columns:
        return rows
    i = columns.index("properties")
    return sorted(((*r[:i], json.loads(r[i]), *r[i + 1:]) for r in rows), key=repr)


@needs_spark
def test_spark_loader_wrote_the_duckdb_loaders_raw_tables(spark_demo: Workspace, demo: Workspace):
    """The Spark demo's raw tables, written by the Spark loader, hold the rows the DuckDB demo's
    loader wrote, in Spark's Parquet files and in the published file's copy; raw.pending_users is
    empty in both after the build (loaded_at, the load's clock, left out)."""
    conn = duckdb.connect()
    conn.execute("attach ? as duck (read_only)", [str(demo.warehouse)])
    conn.execute("attach ? as spark (read_only)", [str(spark_demo.warehouse)])
    spark_dir = spark_dir_for(spark_demo.warehouse)
    try:
        for table in DAY_TABLES:
            columns = [c for c in columns_of(conn, "duck", "raw", table) if c not in RUN_STAMPS]
            files = str(table_folder(spark_dir, "raw", table) / "*" / "*.parquet")
            parquet = f"read_parquet('{files}', hive_partitioning = true)"
            copied = json_values(rows_of(conn, f"spark.raw.{table}", columns), columns)
            assert json_values(rows_of(conn, parquet, columns), columns) == copied, table
            # a day's fingerprint holds its files' modification times, which differ between workspaces
            columns = [c for c in columns if c != "fingerprint"]
            duck_rows = json_values(rows_of(conn, f"duck.raw.{table}", columns), columns)
            assert json_values(rows_of(conn, f"spark.raw.{table}", columns), columns) == duck_rows, table
            if table != "rejected_lines":
                assert duck_rows, f"raw.{table} is empty: the comparison would prove nothing"
        assert conn.execute("select count(*) from spark.raw.pending_users").fetchone() == (0,)
        assert not list(table_folder(spark_dir, "raw", "pending_users").glob("*.parquet"))
    finally:
        conn.close()


@needs_spark
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dbt made ready ahead: Linux's abstract sockets")
def test_the_loader_and_dbt_share_one_spark_in_a_run(spark_demo: Workspace):
    """The CLI hands the Spark load to the dbt process it made ready ahead (build/warm_dbt.py), whose
    Spark then serves dbt's build: one JVM for the demo's run, not one for the load and one for dbt."""
    assert len(spark_demo.spark_starts) == 1, spark_demo.spark_starts


@needs_spark
def test_dbt_build_passes_on_spark(spark_demo: Workspace):
    target = refresh_target_path(build_path_for(spark_demo.warehouse.resolve()), "spark")
    run_results = json.loads((target / "run_results.json").read_text())
    assert run_results["args"]["target"] == "spark"
    statuses = {}
    for result in run_results["results"]:
        kind = result["unique_id"].split(".")[0]
        statuses.setdefault(kind, {}).setdefault(result["status"], []).append(result["unique_id"])
    assert set(statuses["test"]) <= {"pass", "warn"}, statuses["test"]
    # A Spark build runs the KPI and uniqueness tests, the full first one too: each routine column
    # check would be a Spark job of its own. They check data that equals, row for row, a DuckDB full
    # rebuild's, which runs them all (refreshed_late below).
    manifest = json.loads((target / "manifest.json").read_text())
    expected = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"
                and (node.get("test_metadata") or {}).get("name") not in ROUTINE_GENERIC_TESTS
                and node["name"] not in REVIEW_TESTS}
    assert {uid for ids in statuses["test"].values() for uid in ids} == expected
    assert len(expected) > 40
    assert set(statuses["model"]) == {"success"}
    assert set(statuses["seed"]) == {"success"}


@needs_spark
def test_spark_sets_file_permissions_without_a_chmod_process(spark_demo: Workspace):
    """Hadoop without its native library runs a `chmod` for every file and folder Spark writes; the
    run's Spark sets the same bits inside its JVM (InProcessChmodFileSystem, docs/spark.md): the
    demo's load and build started no `chmod`, and every file and folder of its tables has the
    mode Hadoop gives (0644, 0755: its default umask 022)."""
    if file_system_jar(user_cache_dir()) is None:
        pytest.skip("no javac beside the java Spark runs on: Spark keeps Hadoop's chmod processes")
    assert spark_demo.spark_arguments
    for argv in spark_demo.spark_arguments:
        assert f"spark.hadoop.fs.file.impl={FILE_SYSTEM_CLASS}" in argv
    assert not spark_demo.chmod_log.exists(), spark_demo.chmod_log.read_text()[:500]
    tables = spark_dir_for(spark_demo.warehouse) / "warehouse"
    modes = {oct(path.stat().st_mode & 0o7777) for path in tables.rglob("*") if path.is_file()}
    assert modes == {"0o644"}
    modes = {oct(path.stat().st_mode & 0o7777) for path in tables.rglob("*") if path.is_dir()}
    assert modes == {"0o755"}


def test_a_spark_build_without_a_load_first_loads_the_days_spark_lacks(tmp_path: Path, monkeypatch):
    """`refresh --full` alone (or the rebuild_models job) on Spark, when the build file holds days
    that Spark's raw tables lack (the DuckDB loader's, before a switch of engine): those days are
    loaded on Spark and copied back before dbt builds. The Spark job and the copy are stand-ins here
    (what they do is test_spark_load's); this checks the wiring between them, which a call without
    its `full` argument broke with a TypeError."""
    from orchestration.build import loading

    day = dt.date(2026, 11, 20)
    build = tmp_path / ".warehouse.build.duckdb"
    spark_dir = tmp_path / "warehouse.duckdb.spark"
    calls = []

    def spark_load(exports, folder, days):
        calls.append(("load", folder, list(days)))
        yield from (loading.LoadStats(export_date=d) for d in days)

    monkeypatch.setattr(loading, "analytics_engine", lambda: "spark")
    monkeypatch.setattr(loading, "check_spark_runnable", lambda: None)
    monkeypatch.setattr(loading, "prepare_build_file", lambda warehouse: build)
    monkeypatch.setattr(loading, "loaded_days", lambda path: {day: "fingerprint"})
    monkeypatch.setattr(loading, "days_behind", lambda loaded, folder: sorted(loaded))
    monkeypatch.setattr(loading, "run_spark_load", spark_load)
    monkeypatch.setattr(loading, "mirror_days", lambda path, folder, days: calls.append(("copy", path, list(days))))
    loading.catch_up_spark_raw(tmp_path / "warehouse.duckdb", tmp_path / "exports", build, spark_dir)
    assert calls == [("load", spark_dir, [day]), ("copy", build, [day])]


def test_a_day_spark_loads_again_that_a_delivery_cuts_short_is_told(tmp_path: Path, monkeypatch):
    """A day Spark loads again to match the build file, whose files go or change while it loads (a
    delivery under way), is told on the progress line as the run's own days are (it was not: only
    the run's own days' counts reached the raw_exports asset), both before a run's load and before a
    build without one. The Spark job and the copy are stand-ins (their own tests are
    test_spark_load's); this checks what the wiring says."""
    import dataclasses

    from orchestration.build import loading, progress

    behind, own = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    build = tmp_path / ".warehouse.build.duckdb"
    outcome = {"not_loaded_because": "its file part-0001.jsonl was removed while the load read the day"}

    def spark_load(exports, folder, days):
        for day in days:
            yield dataclasses.replace(loading.LoadStats(export_date=day), **(outcome if day == behind else {}))

    monkeypatch.setattr(loading, "analytics_engine", lambda: "spark")
    monkeypatch.setattr(loading, "check_spark_runnable", lambda: None)
    monkeypatch.setattr(loading, "check_spark_dir", lambda folder: folder)
    monkeypatch.setattr(loading, "prepare_build_file", lambda warehouse: build)
    monkeypatch.setattr(loading, "loaded_days", lambda path: {behind: "fingerprint"})
    monkeypatch.setattr(loading, "days_behind", lambda loaded, folder: sorted(loaded))
    monkeypatch.setattr(loading, "run_spark_load", spark_load)
    monkeypatch.setattr(loading, "mirror_days", lambda path, folder, days: None)
    lines = []
    progress.set_listener(lines.append)
    try:
        yielded = list(loading.load_days(tmp_path / "warehouse.duckdb", tmp_path / "exports", [own], full=False))
        assert [stats.export_date for stats in yielded] == [own]  # the asset tells its own days
        assert ("export day 2026-11-20, loaded on Spark again, not loaded: its file part-0001.jsonl was removed "
                "while the load read the day (a delivery under way?); this run builds with Spark's earlier load of "
                "the day, or without the day if Spark has none, and the next refresh loads it") in lines
        lines.clear()
        outcome = {"changed_while_read": True}
        loading.catch_up_spark_raw(tmp_path / "warehouse.duckdb", tmp_path / "exports", build, tmp_path / "spark")
        assert ("export day 2026-11-20, loaded on Spark again, changed while it was read (a delivery under way?): "
                "it is loaded as read, and loads again at the next refresh") in lines
    finally:
        progress.set_listener(None)

@needs_spark
def test_hives_session_folder_is_the_spark_folders_not_a_new_one_in_tmp(spark_demo: Workspace):
    """Hive's default folder for a session's added resources is a new /tmp/<session id>_resources
    in every Spark process, which a local session never removes: one more in /tmp per refresh."""
    folder = spark_dir_for(spark_demo.warehouse) / "hive_resources"
    assert spark_demo.spark_arguments
    for argv in spark_demo.spark_arguments:
        assert f"spark.hadoop.hive.downloaded.resources.dir={folder}" in argv
    assert folder.is_dir()


@needs_spark
def test_the_file_system_jar_is_compiled_once_by_the_javac_of_sparks_java(tmp_path: Path, monkeypatch):
    if not _java_runtime().with_name("javac").exists():
        pytest.skip("no javac beside the java Spark runs on (a Java runtime without its JDK)")
    cache = tmp_path / "cache"
    jar = file_system_jar(cache)
    assert jar is not None and jar.parent == cache
    with zipfile.ZipFile(jar) as archive:
        assert archive.namelist() == [FILE_SYSTEM_CLASS.replace(".", "/") + ".class"]
    built = jar.stat().st_mtime_ns
    assert file_system_jar(cache) == jar and jar.stat().st_mtime_ns == built  # not compiled again
    assert list(cache.iterdir()) == [jar]  # nothing of the build left beside it
    # a folder whose path could not go on a class path
    assert file_system_jar(tmp_path / "my cache") is None
    assert file_system_jar(tmp_path / "a:b") is None
    # a Java runtime without its JDK: no javac beside its java, so no jar (Spark keeps Hadoop's own)
    runtime = tmp_path / "jre"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "bin" / "java").write_text("#!/bin/sh\n")
    monkeypatch.setenv("JAVA_HOME", str(runtime))
    assert file_system_jar(cache) is None


@needs_spark
@pytest.mark.parametrize("schema", COMPARED_SCHEMAS)
def test_spark_tables_equal_duckdb_row_for_row(spark_demo: Workspace, demo: Workspace, schema: str):
    """Every table of the Spark demo's published file equals the DuckDB demo's, and holds the rows
    of Spark's own Parquet files."""
    assert_same_rows(spark_demo, demo, schema)


def assert_same_rows(spark: Workspace, duck: Workspace, schema: str, skip: tuple[str, ...] = (),
                     empty_marts_allowed: bool = False) -> None:
    tables = [t for s, t in duckdb_tables(duck.warehouse) if s == schema and t not in skip]
    assert tables, f"no {schema} tables in the DuckDB warehouse"
    conn = duckdb.connect()
    conn.execute("attach ? as duck (read_only)", [str(duck.warehouse)])
    conn.execute("attach ? as spark (read_only)", [str(spark.warehouse)])
    differences = {}
    try:
        for table in tables:
            duck_columns = columns_of(conn, "duck", schema, table)
            assert columns_of(conn, "spark", schema, table) == duck_columns, f"{schema}.{table}: columns differ"
            files = ", ".join(f"'{f}'" for f in spark_files(spark, schema, table))  # test folders: no quote
            parquet = f"read_parquet([{files}], hive_partitioning = true)"
            parquet_columns = [r[0] for r in conn.execute(f"describe select * from {parquet}").fetchall()]
            assert [c for c in parquet_columns if c not in SPARK_ONLY_COLUMNS] == duck_columns
            compared = [c for c in duck_columns if c not in RUN_STAMPS]
            duck_rows = rows_of(conn, f"duck.{schema}.{table}", compared)
            spark_rows = rows_of(conn, f"spark.{schema}.{table}", compared)
            assert spark_rows == rows_of(conn, parquet, compared), f"{schema}.{table}: published != Spark's files"
            if duck_rows != spark_rows:
                only_duck = sorted(set(duck_rows) - set(spark_rows), key=repr)[:3]
                only_spark = sorted(set(spark_rows) - set(duck_rows), key=repr)[:3]
                differences[table] = (len(duck_rows), len(spark_rows), only_duck, only_spark)
            elif schema == "marts" and not empty_marts_allowed:
                assert duck_rows, f"marts.{table} is empty: the comparison would prove nothing"
    finally:
        conn.close()
    assert not differences, "\n".join(
        f"{schema}.{t}: {n} DuckDB rows, {m} Spark rows; only DuckDB {a}; only Spark {b}"
        for t, (n, m, a, b) in differences.items())


def day_one_lines(workspace: Workspace) -> list[dict]:
    """The events of the first export file of the first export day (the late input copies some);
    not the lines that are not JSON objects with a properties object (some of the lines the demo
    damages on purpose)."""
    days = list_export_days(workspace.exports)
    first = sorted(day_folder(workspace.exports, days[0]).glob("*.jsonl*"))[0]
    opener = gzip.open if first.name.endswith(".gz") else open
    events = []
    with opener(first, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return [e for e in events if isinstance(e, dict) and isinstance(e.get("properties"), dict)]


def late_messages(day_one: list[dict]) -> list[dict]:
    return [e for e in day_one if e["event_type"] == "user_message"][:20]


def write_late_input(workspace: Workspace) -> list[str]:
    """The same late input for a demo workspace, from its own export files (both demos wrote the same
    ones): the last day re-delivered with an extra file (users of day 1 who write again ten minutes
    after a message, and an exact copy of a day-1 line), and the next export day, on which those
    users return. Returns the export days to refresh: one range, so a single run refreshes them."""
    days = [d.isoformat() for d in list_export_days(workspace.exports)]
    day_one = day_one_lines(workspace)
    late, returning = [], []
    for i, original in enumerate(late_messages(day_one)):
        at = dt.datetime.fromisoformat(original["occurred_at"].replace("Z", "+00:00"))
        again = {**original, "event_id": f"late-{i}", "occurred_at": (at + dt.timedelta(minutes=10)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "properties": {**original["properties"], "message_id": f"msg_late_{i}"}}
        late.append(again)
        returning.append({**again, "event_id": f"back-{i}", "conversation_id": f"back-{i}",
                          "occurred_at": f"{(dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1))}T09:{i:02d}:00Z",
                          "properties": {**original["properties"], "message_id": f"msg_back_{i}"}})
    new_day = (dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)).isoformat()
    write_export(workspace.exports, days[-1], "part-late.jsonl", [*late, day_one[0]])
    write_export(workspace.exports, new_day, "part-0000.jsonl", returning)
    return [days[-1], new_day]


def buckets_of(workspace: Workspace, schema: str, table: str) -> dict[int, set[tuple[str, str]]]:
    """The users (assistant_id, user_id) of each user bucket in a user-keyed Spark table's files."""
    conn = duckdb.connect()
    try:
        rows = conn.execute(
            "select user_bucket, list(distinct (assistant_id, user_id)) from read_parquet(?, hive_partitioning = true) "
            "group by all", [spark_files(workspace, schema, table)]).fetchall()
    finally:
        conn.close()
    return {bucket: {tuple(u) for u in users} for bucket, users in rows}


# A user-keyed table's bucket that a refresh leaves with no row (docs/spark.md): a user alone in a
# bucket of this table, whose events all lie on the demo's last export day (the day the late input
# re-delivers, so one run refreshes both), and who is not in the late input.
# That day is re-delivered without their lines, so the bucket must end up gone, which a dynamic
# partition overwrite alone does not do (the post-hook spark_finish_user_buckets drops it). The
# user-keyed table with the fewest users: the likeliest to have one alone in a bucket.
EMPTIED_TABLE = ("intermediate", "int_handover_requests_classified")


def user_to_remove(spark: Workspace) -> tuple[int, tuple[str, str], str]:
    """(bucket, user, export day) of a user alone in a bucket of EMPTIED_TABLE in the Spark demo's
    files, whose raw events all lie on the last export day, and whom the late input leaves alone."""
    last_day = list_export_days(spark.exports)[-1].isoformat()
    day_one = day_one_lines(spark)
    in_late_input = {(e["assistant_id"], e["user_id"]) for e in [*late_messages(day_one), day_one[0]]}
    for bucket, users in sorted(buckets_of(spark, *EMPTIED_TABLE).items()):
        if len(users) != 1 or users <= in_late_input:
            continue
        (user,) = users
        days = spark.query("select distinct export_date from raw.events where assistant_id = ? and user_id = ?",
                           list(user))
        if [d.isoformat() for (d,) in days] == [last_day]:
            return bucket, user, last_day
    raise AssertionError(f"no user alone in a bucket of {'.'.join(EMPTIED_TABLE)} with events on the last export "
                         "day only and outside the late input: the emptied-bucket case cannot be made from this demo")


def redeliver_without(exports: Path, day: str, user: tuple[str, str]) -> None:
    """Re-delivers an export day without the user's lines: each file holding some is rewritten (gzip
    or plain, as it was) with every other line byte for byte."""
    removed = 0
    for path in sorted((exports / f"dt={day}").glob("*.jsonl*")):
        gzipped = path.name.endswith(".gz")
        data = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if not is_line_of(line, user)]
        if len(kept) < len(lines):
            removed += len(lines) - len(kept)
            text = b"".join(kept)
            path.write_bytes(gzip.compress(text) if gzipped else text)
    assert removed, f"no line of {user} in the export day {day}"


def is_line_of(line: bytes, user: tuple[str, str]) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False  # a line the contract rejects: kept as it is
    return isinstance(event, dict) and (event.get("assistant_id"), event.get("user_id")) == user


@dataclasses.dataclass
class LateRefresh:
    spark: Workspace
    duck: Workspace
    removed_user: tuple[str, str]
    their_bucket: int
    buckets_before: dict[int, set[tuple[str, str]]]
    class_archive_options: list[list[str]]  # of the refresh's Spark driver


@pytest.fixture(scope="module")
@slow_fixture
def refreshed_late(spark_demo: Workspace, demo: Workspace) -> LateRefresh:
    """After the other tests of the file: the late input, and the day of a user alone in a bucket
    re-delivered without them, refreshed incrementally on Spark and rebuilt in full on DuckDB (a
    DuckDB full rebuild equals a Spark full rebuild: the demo tests above)."""
    before = buckets_of(spark_demo, *EMPTIED_TABLE)
    bucket, user, their_day = user_to_remove(spark_demo)
    days = write_late_input(spark_demo)
    assert write_late_input(demo) == days
    for workspace in (spark_demo, demo):
        redeliver_without(workspace.exports, their_day, user)
    assert their_day in days  # one range of days: one run
    day_args = [a for d in days for a in ("--day", d)]
    with SparkStarts(spark_dir_for(spark_demo.warehouse.resolve())) as starts:
        spark_demo.cli("refresh", *day_args, env={"ANALYTICS_ENGINE": "spark"}, timeout=3600)
    demo.cli("refresh", *day_args, "--full")
    return LateRefresh(spark_demo, demo, user, bucket, before, starts.class_archive_options())


@needs_spark
def test_incremental_refresh_on_spark_equals_a_full_rebuild(refreshed_late: LateRefresh):
    spark, duck = refreshed_late.spark, refreshed_late.duck
    target = refresh_target_path(build_path_for(spark.warehouse.resolve()), "spark")
    run_results = json.loads((target / "run_results.json").read_text())
    assert run_results["args"]["target"] == "spark" and not run_results["args"].get("full_refresh")
    # the refresh rewrote some buckets of a user-keyed table and left others as they were
    stamps = spark.query("select count(distinct refreshed_at) from intermediate.int_events_sessionized")[0][0]
    assert stamps >= 2  # the demo's stamp is left on the users no run recomputed
    assert duck.query("select count(*) from raw.events where event_id like 'back-%'")[0][0] == 20
    for schema in COMPARED_SCHEMAS:
        assert_same_rows(spark, duck, schema, skip=WORK_QUEUES)


@needs_spark
def test_a_bucket_left_with_no_rows_is_dropped(refreshed_late: LateRefresh):
    """The removed user had a bucket of their own; after the refresh they have no raw event, no row
    in any bucket, and their bucket is gone from Spark's files (the rows are compared above)."""
    spark, user, bucket = refreshed_late.spark, refreshed_late.removed_user, refreshed_late.their_bucket
    assert refreshed_late.buckets_before[bucket] == {user}
    assert spark.query("select count(*) from raw.events where assistant_id = ? and user_id = ?", list(user)) == [(0,)]
    after = buckets_of(spark, *EMPTIED_TABLE)
    assert all(user not in users for users in after.values())
    assert bucket not in after
    assert not (table_folder(spark_dir_for(spark.warehouse), *EMPTIED_TABLE) / f"user_bucket={bucket}").exists()
    assert after  # the table's other buckets are still there


@needs_spark
def test_a_spark_run_reads_the_class_archive_an_earlier_one_wrote(refreshed_late: LateRefresh, monkeypatch):
    """The Spark demo's run read the class archive, or wrote it before it ended (its JVM waited for,
    so no JVM is left writing after a run); the late refresh's JVM, started after it, read it."""
    monkeypatch.delenv("ANALYTICS_SPARK_CLASS_ARCHIVE", raising=False)  # as the CLI ran (Workspace.cli)
    archive = class_archive_path(spark_class_archive_dir(), str(file_system_jar(user_cache_dir()) or ""))
    assert archive.read_bytes()[:4] == _DYNAMIC_ARCHIVE_MAGIC
    assert refreshed_late.class_archive_options == [[f"-XX:SharedArchiveFile={archive}"]]


def uap_core_classification(user_agent: str) -> tuple[str, str]:
    """kpis.md "Users": device type and browser from uap-core (ua-parser), the definition that
    int_user_agents_parsed implements in SQL."""
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else "Other"
    device_family = result.device.family if result.device else "Other"
    has_mobile = "Mobile" in user_agent
    if device_family == "iPad" or (os_family == "Android" and not has_mobile):
        return "tablet", browser
    if os_family in ("iOS", "Android") or has_mobile:
        return "mobile", browser
    return "desktop", browser


def test_the_demos_hints_run_as_printed_from_another_folder(demo: Workspace, tmp_path):
    """Its --warehouse is not the default one: each hint names it, so a hint pasted anywhere reads
    the demo's warehouse, not whatever data/warehouse.duckdb the shell's folder has. The demo ran
    with the venv not on PATH (as the Quickstart runs it): a hint names the program by its path."""
    hints = demo.demo_stderr.split("; try:\n", 1)[1].strip().splitlines()
    found = shutil.which("assistant-analytics")  # the demo ran with this process's PATH
    on_path = found is not None and Path(found).resolve() == Path(CLI).resolve()
    program = "assistant-analytics" if on_path else CLI
    assert [shlex.split(h)[:3] for h in hints] == [[program, "report", "--warehouse"],
                                                   [program, "dashboard", "--warehouse"]]
    # pasted into a shell with that PATH, or one with no venv on it when the venv was not on PATH
    env = {**environment_without_settings(), "PATH": os.environ["PATH"] if on_path else os.defpath}
    proc = subprocess.run(["/bin/sh", "-c", hints[0]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "Users" in proc.stdout, proc.stderr


def test_user_agents_classified_as_uap_core_does(demo: Workspace):
    rows = demo.query("select user_agent, device_type, browser from intermediate.int_user_agents_parsed")
    assert len(rows) >= 10  # the demo's browsers, each a string of its own
    assert {ua: (device, browser) for ua, device, browser in rows} == {
        ua: uap_core_classification(ua) for ua, _, _ in rows}


@pytest.mark.parametrize("name", ["it's", 'say "when"'])
def test_spark_folder_path_that_would_break_the_sql_literal_is_refused(tmp_path: Path, name):
    """The folder goes into Spark SQL as a location literal, and into the JVM's options, which Spark
    splits as a shell would (a double quote there moves Derby's home): a quote of either kind in it
    is refused before any file is written or any process started."""
    spark_dir = tmp_path / name
    with pytest.raises(UserError, match="must not contain quotes"):
        check_spark_dir(spark_dir)
    assert not spark_dir.exists()


@pytest.mark.parametrize("name", ["w[1]", "w*", "w?", "w{a,b}"])
def test_a_spark_folder_path_its_readers_would_take_as_a_pattern_is_refused(tmp_path: Path, name):
    """Spark's raw tables are copied into the build file by DuckDB's read_parquet over their files'
    paths, which DuckDB (and Hadoop) take as patterns: `w[1]` would read another folder's files."""
    with pytest.raises(UserError, match=r"must not contain \* \? \[ or \{"):
        check_spark_dir(tmp_path / name / "warehouse.duckdb.spark")


def test_a_spark_folder_spark_could_not_use_is_refused_before_spark_starts(tmp_path: Path):
    """Spark splits the JVM's options at blanks (Derby's home, the Spark folder, would be cut: the
    JVM then fails to start, with nothing on the refresh's error line), and Derby cannot make its
    metastore in a file: both are refused first, with one line that says what to do."""
    with pytest.raises(UserError, match=r"must not contain blanks \(Spark splits its Java options at them\)"):
        check_spark_dir(tmp_path / "my exports" / "w.duckdb.spark")
    a_file = tmp_path / "w.duckdb.spark"
    a_file.write_text("")
    with pytest.raises(UserError, match=r"is a file: Spark keeps its tables and metastore in a folder"):
        check_spark_dir(a_file)
    assert check_spark_dir(tmp_path / "new.duckdb.spark") == tmp_path / "new.duckdb.spark"


def test_a_java_home_without_java_is_refused_even_with_java_on_path(tmp_path: Path, monkeypatch):
    """Spark's launcher runs $JAVA_HOME/bin/java when JAVA_HOME is set, not the java on PATH."""
    from orchestration.build.spark_models import check_spark_runnable

    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check comes after it")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(UserError, match=r"^JAVA_HOME=.*no-jdk has no bin/java to run, and Spark runs that one"):
        check_spark_runnable()
    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").write_text("#!/bin/sh\n")
    (tmp_path / "jdk" / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    check_spark_runnable()


@pytest.mark.parametrize("command", [("refresh", "--all"), ("demo", "--days", "1")])
def test_a_spark_run_refused_for_its_java_makes_no_folder(tmp_path: Path, monkeypatch, capsys, command):
    """An audit: `refresh` and the demo on Spark, refused for a JAVA_HOME without java, had made the
    warehouse's folder first (empty), where docs/spark.md says a refusal writes nothing."""
    from orchestration.cli import main as cli

    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check comes after it")
    write_export(tmp_path / "exports", "2026-11-20", "part-0000.jsonl", ["{}"])
    monkeypatch.setenv("ANALYTICS_ENGINE", "spark")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    folder = tmp_path / "new-folder"
    exports = tmp_path / ("exports" if command[0] == "refresh" else "demo-exports")
    assert cli.main([*command, "--exports", str(exports), "--warehouse", str(folder / "w.duckdb")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("assistant-analytics: error: JAVA_HOME="), line
    assert not folder.exists() and not (tmp_path / "demo-exports").exists()


@pytest.mark.parametrize("banner, refused", [
    ('java version "1.8.0_292"\nJava(TM) SE Runtime Environment', "Java 8"),
    ('openjdk version "11.0.2" 2019-01-15', "Java 11"),
    ('openjdk version "17.0.15" 2025-04-15', None),
    ('openjdk version "21" 2023-09-19', None),
    ("no version said", None),  # cannot be told: the JVM gives its own error, if any
])
def test_a_java_older_than_17_is_refused_before_anything_runs(tmp_path: Path, monkeypatch, banner, refused):
    """Spark 4 does not start on Java 8 or 11, and its launcher says only that the gateway process
    exited (a Spark audit: the refresh began, then failed with that line)."""
    from orchestration.build.spark_models import check_spark_runnable

    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check comes after it")
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{banner}\nEOF\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    if refused:
        expected = rf"^ANALYTICS_ENGINE=spark needs a Java 17\+ runtime, and {re.escape(str(java))} is {refused}:"
        with pytest.raises(UserError, match=expected):
            check_spark_runnable()
    else:
        check_spark_runnable()


def test_a_failed_spark_start_names_its_reason_on_the_error_line():
    """The refresh shows an error's first line: a Spark job that failed puts there the line of its
    output that says why, not Python's last words."""
    from orchestration.build.spark_job import _reason

    gateway = ("Error: Could not find or load main class ace.wh.duckdb.spark\n"
               "Caused by: java.lang.ClassNotFoundException: ace.wh.duckdb.spark\n"
               "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
               "pyspark.errors.exceptions.base.PySparkRuntimeError: [JAVA_GATEWAY_EXITED] Java gateway process "
               "exited before sending its port number.\n")
    assert _reason(gateway) == "Caused by: java.lang.ClassNotFoundException: ace.wh.duckdb.spark"
    assert _reason("spark-class: line 71: /x/bin/java: No such file or directory\n") == \
        "spark-class: line 71: /x/bin/java: No such file or directory"
    derby = ("26/12/05 14:00:00 WARN Utils: Your hostname resolves to a loopback address\n"
             "Traceback (most recent call last):\n"
             "pyspark.errors.exceptions.captured.AnalysisException: java.sql.SQLException: Failed to start "
             "database 'metastore_db'\n")
    assert _reason(derby).startswith("pyspark.errors.exceptions.captured.AnalysisException: java.sql.SQLException")
    assert _reason("") == "no output"
    assert len(_reason("error " * 100)) == 300


def test_a_failed_spark_jobs_reason_is_found_before_its_long_java_stack():
    """An audit: a Spark job that failed on a Spark folder it could not write ended its output with
    the Java exception's line and then about 8,000 characters of its stack. Only the output's last
    4,000 characters were searched for why, so the refresh's error line was a stack frame
    (`at java.base/java.lang.Thread.run(Thread.java:840)`)."""
    import tempfile

    from orchestration.build.spark_job import _job_failed

    output = ("Traceback (most recent call last):\n"
              '  File "/x/orchestration/load/spark_load.py", line 319, in ensure_spark_raw_tables\n'
              "py4j.protocol.Py4JJavaError: An error occurred while calling o64.sql.\n"
              ": java.lang.RuntimeException: Couldn't create directory /x/wh.duckdb.spark/hive_resources\n"
              + "\tat org.apache.hadoop.hive.ql.session.SessionState.createPath(SessionState.java:799)\n" * 100
              + "\tat java.base/java.lang.Thread.run(Thread.java:840)\n")
    with tempfile.TemporaryFile() as log:
        log.write(output.encode())
        error = str(_job_failed(1, log))
    assert error.splitlines()[0] == ("the Spark load failed (exit 1): java.lang.RuntimeException: Couldn't create "
                                     "directory /x/wh.duckdb.spark/hive_resources")
    assert error.endswith(output[-4000:])  # the end of the output after it, for the run's log


@needs_spark
def test_one_jvm_writes_the_class_archive_and_the_others_read_it_once_complete(tmp_path: Path):
    folder = tmp_path / "cache"
    archive = class_archive_path(folder)
    assert class_archive_options(None, may_write=True) == ("", False)  # ANALYTICS_SPARK_CLASS_ARCHIVE=off
    assert class_archive_options(folder, may_write=False) == ("", False)  # a JVM that outlives its run
    options, writes = class_archive_options(folder, may_write=True)
    assert writes and options.split()[0] == f"-XX:ArchiveClassesAtExit={archive}"
    # nothing of the JVM's on stdout, which is dbt's (dagster-dbt parses it)
    assert options.split()[1:] == ["-Xlog:disable", "-Xlog:all=warning:stderr", "-Xlog:cds*=off:stderr"]
    assert class_archive_options(folder, may_write=True) == ("", False)  # claimed: neither writes nor reads
    archive.write_bytes(bytes(8192))  # being written: the JVM writes the header last
    assert class_archive_options(folder, may_write=True) == ("", False)
    archive.write_bytes(_DYNAMIC_ARCHIVE_MAGIC + bytes(8188))
    options, writes = class_archive_options(folder, may_write=False)
    assert not writes and options.split()[0] == f"-XX:SharedArchiveFile={archive}"
    assert sorted(p.name for p in folder.iterdir()) == [archive.name, archive.name + ".source"]  # the claim is gone
    # a folder whose path Spark would split into two options goes without an archive
    assert class_archive_options(tmp_path / "my cache", may_write=True) == ("", False)


@needs_spark
def test_a_spark_installed_again_gets_an_archive_of_its_own(tmp_path: Path, monkeypatch):
    """The JVM runs without an archive whose class path's jars changed size or modification time
    (a venv made again in the same place), and never writes a complete one again: so the archive's
    name follows the jars of the Spark home that pyspark's launcher finds."""
    spark_home = tmp_path / "spark"
    (spark_home / "jars").mkdir(parents=True)
    jar = spark_home / "jars" / "spark-core.jar"
    jar.write_bytes(b"classes")
    monkeypatch.setenv("SPARK_HOME", str(spark_home))  # the launcher's choice first (find_spark_home)
    folder = tmp_path / "cache"
    first = class_archive_path(folder)
    assert class_archive_path(folder) == first
    later = jar.stat().st_mtime + 60
    os.utime(jar, (later, later))  # the same bytes, installed again
    reinstalled = class_archive_path(folder)
    assert reinstalled != first and reinstalled.parent == folder
    (spark_home / "jars" / "extra.jar").write_bytes(b"more")
    assert class_archive_path(folder) not in (first, reinstalled)
    monkeypatch.delenv("SPARK_HOME")
    assert class_archive_path(folder) not in (first, reinstalled)  # pyspark's own Spark


@needs_spark
def test_a_class_archive_claim_older_than_an_hour_is_taken_again(tmp_path: Path):
    """A JVM that claimed the archive and was killed before it wrote it leaves its claim: after an
    hour another JVM writes it."""
    folder = tmp_path / "cache"
    assert class_archive_options(folder, may_write=True)[1]
    assert class_archive_options(folder, may_write=True) == ("", False)
    claim = class_archive_path(folder).with_name(class_archive_path(folder).name + ".claim")
    hours_ago = claim.stat().st_mtime - 2 * 3600
    os.utime(claim, (hours_ago, hours_ago))
    assert class_archive_options(folder, may_write=True)[1]


@needs_spark
def test_a_new_class_archive_removes_those_of_spark_installs_that_are_gone(tmp_path: Path):
    """Each archive names the Spark home it was made for; a venv made anew (a clean clone's) makes
    one of a few hundred MB, which nothing reads once that venv is gone: writing a new archive
    removes those, and keeps the archives of installs still there and of unknown source."""
    folder = tmp_path / "cache"
    folder.mkdir()
    gone, kept, unknown = (folder / f"spark-classes-{name}.jsa" for name in ("0gone", "1kept", "2unknown"))
    for archive in (gone, kept, unknown):
        archive.write_bytes(_DYNAMIC_ARCHIVE_MAGIC)
    (folder / "spark-classes-0gone.jsa.source").write_text(f"{tmp_path / 'removed-venv' / 'pyspark'}\n")
    (folder / "spark-classes-1kept.jsa.source").write_text(f"{tmp_path}\n")
    assert class_archive_options(folder, may_write=True)[1]
    written = class_archive_path(folder)
    assert not gone.exists() and not (folder / "spark-classes-0gone.jsa.source").exists()
    assert kept.exists() and unknown.exists()
    assert written.with_name(written.name + ".source").read_text().strip() == str(_spark_home())


@pytest.mark.parametrize("engine", ["Spark", "duckdb;spark", "trino"])
def test_an_unknown_engine_stops_the_cli_with_one_line(workspace: Workspace, engine: str):
    """Checked before anything is loaded: exit 2, one line naming the variable and the engines."""
    workspace.exports.mkdir()
    proc = workspace.cli("refresh", "--full", check=False, env={"ANALYTICS_ENGINE": engine})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"assistant-analytics: error: ANALYTICS_ENGINE={engine!r} is not valid: expected duckdb or spark"]
    assert not workspace.warehouse.exists() and not spark_dir_for(workspace.warehouse).exists()


def model_node(schema: str, alias: str, materialized: str) -> dict:
    """A model's entry in dbt's manifest, with what spark_models.spark_tables reads of it."""
    return {"resource_type": "model", "schema": schema, "alias": alias, "config": {"materialized": materialized}}


def write_manifest(tmp_path: Path, nodes: dict) -> Path:
    """A dbt manifest of `nodes` (model_node entries), as import_spark_tables reads it."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes}))
    return manifest


def imported_rows(tmp_path: Path, spark_dir: Path, build: Path, nodes: dict) -> tuple[dict, dict]:
    """import_spark_tables with a manifest of `nodes`: the rows it counted per table, and each
    imported table's rows as the build file then holds them, sorted."""
    counts = {k: v for k, v in import_spark_tables(build, spark_dir, write_manifest(tmp_path, nodes)).items()
              if k != "seconds"}
    conn = duckdb.connect(str(build), read_only=True)
    try:
        return counts, {name: sorted(conn.execute(f"select * from {name}").fetchall()) for name in counts}
    finally:
        conn.close()


def test_spark_tables_replace_the_build_files_copies_in_one_transaction(tmp_path: Path):
    """spark_models.import_spark_tables without a Spark: Parquet files laid out as Spark's warehouse
    folder (a plain table, a table partitioned by user bucket), a manifest naming them and a view.
    The build file gets their rows (no user_bucket, nor a column of a `key=value` folder above the
    Spark folder, which a read of Hive partitions would add); a missing table changes nothing."""
    spark_dir, build = tmp_path / "env=prod" / "n=5" / "w.spark", tmp_path / "build.duckdb"
    conn = duckdb.connect(str(build))
    conn.execute("create schema marts; create table marts.fct_a as select 'stale' as user_id, 0 as n")
    plain = table_folder(spark_dir, "marts", "fct_a")
    plain.mkdir(parents=True)
    conn.execute(f"copy (select * from (values ('u1', 1), ('u2', 2)) t(user_id, n)) to '{plain}/part-0.parquet'")
    for bucket, user in ((3, "u1"), (7, "u2")):
        folder = table_folder(spark_dir, "intermediate", "int_b") / f"user_bucket={bucket}"
        folder.mkdir(parents=True)
        conn.execute(f"copy (select '{user}' as user_id, {bucket} * 10 as n) to '{folder}/part-0.parquet'")
    conn.close()
    nodes = {"model.p.fct_a": model_node("marts", "fct_a", "table"),
             "model.p.int_b": model_node("intermediate", "int_b", "incremental"),
             "model.p.stg_c": model_node("staging", "stg_c", "view")}
    counts, rows = imported_rows(tmp_path, spark_dir, build, nodes)

    assert counts == {"marts.fct_a": 2, "intermediate.int_b": 2}
    assert rows == {"marts.fct_a": [("u1", 1), ("u2", 2)], "intermediate.int_b": [("u1", 30), ("u2", 70)]}

    nodes["model.p.fct_missing"] = model_node("marts", "fct_missing", "table")
    manifest = write_manifest(tmp_path, nodes)
    shutil.rmtree(plain)
    plain.mkdir()
    conn = duckdb.connect(str(build))
    conn.execute(f"copy (select 'u9' as user_id, 9 as n) to '{plain}/part-0.parquet'")
    conn.close()
    with pytest.raises(RuntimeError, match="no table marts.fct_missing"):
        import_spark_tables(build, spark_dir, manifest)
    conn = duckdb.connect(str(build), read_only=True)
    try:  # rolled back: fct_a still holds the first import's rows, not u9
        assert conn.execute("select * from marts.fct_a order by 1").fetchall() == [("u1", 1), ("u2", 2)]
    finally:
        conn.close()


def test_files_an_interrupted_spark_write_left_are_not_imported(tmp_path: Path):
    """A Spark write cut short (a refresh interrupted, its JVM gone) can leave its files in the
    table's folder: a dynamic partition overwrite's `.spark-staging-<job>/user_bucket=<n>/`, a
    committer's `_temporary/`. Spark's readers skip every path with a part starting with `.` or `_`;
    the import into the build file skips the same ones, so a later refresh publishes the table's
    rows once, not with the left-over copies."""
    spark_dir, build = tmp_path / "w.spark", tmp_path / "build.duckdb"
    conn = duckdb.connect()
    plain = table_folder(spark_dir, "marts", "fct_a")
    keyed = table_folder(spark_dir, "intermediate", "int_b")
    written = [(plain, "'u1' as user_id, 1 as n"), (keyed / "user_bucket=3", "'u2' as user_id, 2 as n")]
    left_over = [
        (keyed / ".spark-staging-0b1c" / "user_bucket=3", "'u2' as user_id, 99 as n"),
        (keyed / "_temporary" / "0" / "task_01", "'u2' as user_id, 98 as n"),
        (plain / "_temporary" / "0" / "_temporary" / "attempt_01", "'u1' as user_id, 97 as n"),
        (plain / ".hidden", "'u1' as user_id, 96 as n"),
    ]
    for folder, row in written + left_over:
        folder.mkdir(parents=True)
        conn.execute(f"copy (select {row}) to '{folder}/part-00000.snappy.parquet'")
    conn.close()
    nodes = {"model.p.fct_a": model_node("marts", "fct_a", "table"),
             "model.p.int_b": model_node("intermediate", "int_b", "incremental")}
    assert imported_rows(tmp_path, spark_dir, build, nodes) == (
        {"marts.fct_a": 1, "intermediate.int_b": 1}, {"marts.fct_a": [("u1", 1)], "intermediate.int_b": [("u2", 2)]})


def test_a_spark_table_with_no_partition_is_imported_empty_with_its_columns(tmp_path: Path):
    """A user-keyed table left with no partition has no Parquet file (Spark writes none for no row):
    the build file gets it empty, with the columns of the empty file the Spark post-hook wrote
    (spark_finish_user_buckets); without that file the import stops and says so."""
    spark_dir, build = tmp_path / "w.spark", tmp_path / "build.duckdb"
    folder = table_folder(spark_dir, "intermediate", "int_empty")
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    manifest = write_manifest(tmp_path, {"model.p.int_empty": model_node("intermediate", "int_empty", "incremental")})
    with pytest.raises(RuntimeError, match="no Parquet file"):
        import_spark_tables(build, spark_dir, manifest)

    empty = spark_dir / "empty_tables" / "intermediate.int_empty"
    empty.mkdir(parents=True)
    conn = duckdb.connect()
    conn.execute(f"copy (select 'u1' as user_id, 2 as n, 3 as user_bucket where false) to '{empty}/part-0.parquet'")
    conn.close()
    counts = import_spark_tables(build, spark_dir, manifest)
    assert counts["intermediate.int_empty"] == 0
    conn = duckdb.connect(str(build), read_only=True)
    try:
        assert [r[:2] for r in conn.execute("describe intermediate.int_empty").fetchall()] == [
            ("user_id", "VARCHAR"), ("n", "INTEGER")]
    finally:
        conn.close()


def test_spark_user_agents_of_another_parser_are_found_without_spark(tmp_path):
    """After an upgrade of ua-parser, a Spark build with no day to load (`refresh --full` alone)
    reloads one, so that the Spark loader parses every string again before the models are rebuilt
    (orchestration/build/loading.py): the stale rows are found in Spark's files by DuckDB. The
    Spark folder is under `key=value` folders, one named as Spark's partition column: the loaded day
    is the day folder's, not the outer one's (a read of Hive partitions took the outer one)."""
    from orchestration.build.spark_job import spark_loaded_days, spark_user_agents_stale
    from orchestration.load.user_agents import parser_version

    spark_dir = tmp_path / "env=prod" / "export_date=2026-01-01" / "w.duckdb.spark"
    raw = table_folder(spark_dir, "raw", "export_days").parent
    assert not spark_user_agents_stale(spark_dir)  # nothing loaded
    day = raw / "export_days" / "export_date=2026-11-20"
    day.mkdir(parents=True)
    conn = duckdb.connect()
    try:
        conn.execute(f"copy (select 'fp' as fingerprint) to '{day / 'part-0.parquet'}' (format parquet)")
        assert spark_loaded_days(spark_dir) == {dt.date(2026, 11, 20): "fp"}
        assert spark_user_agents_stale(spark_dir)  # loaded before the table existed
        (raw / "user_agents").mkdir()
        for by, stale in ((parser_version(), False), ("ua-parser 0.0", True)):
            conn.execute(f"copy (select 'curl/8' as user_agent, ? as parsed_by) "
                         f"to '{raw / 'user_agents' / 'part-0.parquet'}' (format parquet)", [by])
            assert spark_user_agents_stale(spark_dir) is stale, by
    finally:
        conn.close()


def test_the_days_spark_loads_again_are_named_on_the_progress_line():
    """A switch of engine (or a Spark load cut short) has Spark load days again: the line says which
    (a Spark audit: it said only how many)."""
    from orchestration.build.loading import _loaded_again

    days = [dt.date(2026, 11, d) for d in (8, 1, 2, 3, 4, 5, 6)]
    assert _loaded_again(days[:1]) == "1 export day(s) loaded on Spark again, to match the build file's raw: 2026-11-08"
    assert _loaded_again(days).endswith(": 2026-11-01, 2026-11-02, 2026-11-03, 2026-11-04, 2026-11-05 and 2 more")
