"""The same dbt project on Spark (docs/spark.md, phase 1): the demo is loaded and built on DuckDB as
a refresh does, its raw tables are copied to a local Spark (orchestration/build/spark_raw.py), and
`dbt build --target spark --full-refresh` must pass every dbt test there and produce the same rows
as DuckDB in every mart and intermediate table.

Both sides are read with DuckDB: the Spark tables are Parquet files under the Spark warehouse
folder, so the comparison needs no second Spark process. The stamp of the run (refreshed_at)
differs between any two builds and is left out; every other column, loaded_at included, must be
equal.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import Workspace, slow_fixture
from ua_parser import parse

from orchestration.build.dbt_project import dbt_executable
from orchestration.build.spark_raw import RAW_TABLES, copy_raw_to_spark, dbt_spark_args
from orchestration.errors import UserError
from orchestration.settings import DBT_PROJECT_DIR

needs_spark = pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                                 reason="pyspark is not installed (pip extra `spark`, docs/spark.md)")

RUN_STAMPS = {"refreshed_at"}
COMPARED_SCHEMAS = ("intermediate", "marts")
# The users the last DuckDB refresh recomputed (from raw.pending_users, which that refresh then
# emptied, so Spark gets it empty): a refresh's work queue, not a result.
WORK_QUEUES = {"int_users_affected"}


@dataclass
class SparkBuild:
    workspace: Workspace
    spark_dir: Path
    target_path: Path
    raw_rows: dict[str, int]
    build: subprocess.CompletedProcess

    def table_files(self, schema: str, table: str) -> str:
        """The Parquet files of a managed Spark table: <warehouse dir>/<schema>.db/<table>/ (the
    profile's spark.sql.warehouse.dir)."""
        return str(self.spark_dir / "warehouse" / f"{schema}.db" / table / "*.parquet")


@pytest.fixture(scope="module")
@slow_fixture
def demo(module_workspace: Workspace) -> Workspace:
    module_workspace.cli("demo", "--days", "3")
    return module_workspace


@pytest.fixture(scope="module")
@slow_fixture
def spark_build(demo: Workspace) -> SparkBuild:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (pip extra `spark`, docs/spark.md)")
    spark_dir = demo.root / "warehouse.duckdb.spark"
    target_path = demo.root / "spark_target"
    raw_rows = copy_raw_to_spark(demo.warehouse, spark_dir, target_path)
    build = subprocess.run(
        [dbt_executable(), "build", "--full-refresh", "--exclude", "tag:duckdb_only",  # see docs/spark.md
         *dbt_spark_args(spark_dir, target_path)],
        capture_output=True, text=True, cwd=DBT_PROJECT_DIR, timeout=3600)
    return SparkBuild(demo, spark_dir, target_path, raw_rows, build)


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


def rows_of(conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[tuple]:
    select = ", ".join(f'"{c}"' for c in columns)
    rows = [tuple(normalised(v) for v in row) for row in conn.execute(f"select {select} from {relation}").fetchall()]
    return sorted(rows, key=repr)


@needs_spark
def test_raw_tables_copied_whole(spark_build: SparkBuild):
    conn = duckdb.connect(str(spark_build.workspace.warehouse), read_only=True)
    try:
        expected = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
    finally:
        conn.close()
    assert spark_build.raw_rows == expected
    assert expected["events"] > 0


@needs_spark
def test_dbt_build_passes_on_spark(spark_build: SparkBuild):
    build = spark_build.build
    assert build.returncode == 0, f"dbt build --target spark failed:\n{build.stdout[-8000:]}\n{build.stderr[-4000:]}"
    results = json.loads((spark_build.target_path / "run_results.json").read_text())["results"]
    statuses = {}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        statuses.setdefault(kind, {}).setdefault(result["status"], []).append(result["unique_id"])
    assert set(statuses["test"]) <= {"pass", "warn"}, statuses["test"]
    assert len(statuses["test"]["pass"]) > 100  # the project's tests ran, not an empty selection
    assert set(statuses["model"]) == {"success"}
    assert set(statuses["seed"]) == {"success"}


@needs_spark
@pytest.mark.parametrize("schema", COMPARED_SCHEMAS)
def test_spark_tables_equal_duckdb_row_for_row(spark_build: SparkBuild, schema: str):
    assert spark_build.build.returncode == 0, "dbt build --target spark failed (see test_dbt_build_passes_on_spark)"
    tables = [t for s, t in duckdb_tables(spark_build.workspace.warehouse) if s == schema and t not in WORK_QUEUES]
    assert tables, f"no {schema} tables in the DuckDB warehouse"
    conn = duckdb.connect(str(spark_build.workspace.warehouse), read_only=True)
    differences = {}
    try:
        for table in tables:
            duck_columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall()]
            spark_relation = f"read_parquet('{spark_build.table_files(schema, table)}')"
            spark_columns = [r[0] for r in conn.execute(f"describe select * from {spark_relation}").fetchall()]
            assert spark_columns == duck_columns, f"{schema}.{table}: columns differ"
            compared = [c for c in duck_columns if c not in RUN_STAMPS]
            duck_rows = rows_of(conn, f"{schema}.{table}", compared)
            spark_rows = rows_of(conn, spark_relation, compared)
            if duck_rows != spark_rows:
                only_duck = sorted(set(duck_rows) - set(spark_rows), key=repr)[:3]
                only_spark = sorted(set(spark_rows) - set(duck_rows), key=repr)[:3]
                differences[table] = (len(duck_rows), len(spark_rows), only_duck, only_spark)
            elif schema == "marts":
                assert duck_rows, f"marts.{table} is empty: the comparison would prove nothing"
    finally:
        conn.close()
    assert not differences, "\n".join(
        f"{schema}.{t}: {n} DuckDB rows, {m} Spark rows; only DuckDB {a}; only Spark {b}"
        for t, (n, m, a, b) in differences.items())


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


def test_user_agents_classified_as_uap_core_does(demo: Workspace):
    rows = demo.query("select user_agent, device_type, browser from intermediate.int_user_agents_parsed")
    assert len(rows) >= 10  # the demo's browsers, each a string of its own
    assert {ua: (device, browser) for ua, device, browser in rows} == {
        ua: uap_core_classification(ua) for ua, _, _ in rows}


def test_spark_folder_path_that_would_break_the_sql_literal_is_refused(tmp_path: Path):
    """The folder goes into Spark SQL as a location literal: a quote in it is refused before any
    file is written or any process started."""
    spark_dir = tmp_path / "it's"
    with pytest.raises(UserError, match="must not contain quotes"):
        copy_raw_to_spark(tmp_path / "missing.duckdb", spark_dir, tmp_path / "target")
    assert not spark_dir.exists()
