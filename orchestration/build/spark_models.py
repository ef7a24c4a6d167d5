"""The Spark engine's part of a refresh (ANALYTICS_ENGINE=spark, docs/spark.md): whether this machine
can run it, and the Spark-built tables brought into the build file, which is then published as on
DuckDB, so that every reader (report, export, status, dashboard, BI tools) stays as it is.

The tables are Parquet files of Spark's warehouse folder (`<spark_dir>/warehouse/<schema>.db/<table>`),
which DuckDB reads as they are: no Spark process is needed to read them. They are copied, not
viewed: the next refresh rewrites those files while readers hold the published file, and a copy
keeps the published file whole and self-contained (the atomic publish of publish/publish.py).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import duckdb

from ..errors import UserError
from ..load.raw import transaction
from ..settings import DuckDBLimits

# A physical layout column of the user-keyed Spark tables (docs/spark.md, user buckets): not a
# result, so not published; the DuckDB-built tables have no such column.
SPARK_ONLY_COLUMNS = ("user_bucket",)


def check_spark_runnable() -> None:
    """The Spark engine needs pyspark (requirements.lock, or pip extra `spark`) and a Java 17+ runtime."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise UserError("ANALYTICS_ENGINE=spark needs pyspark and dbt-spark: pip install -e '.[spark]' "
                        "(README, docs/spark.md)")
    java_home = os.environ.get("JAVA_HOME", "")
    if java_home:
        # Spark's launcher runs $JAVA_HOME/bin/java when JAVA_HOME is set, whatever PATH holds
        java = Path(java_home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            raise UserError(f"JAVA_HOME={java_home} has no bin/java to run, and Spark runs that one: point it "
                            "at a Java 17+ runtime or unset it (README, docs/spark.md)")
    elif shutil.which("java"):
        java = Path(shutil.which("java"))
    else:
        raise UserError("ANALYTICS_ENGINE=spark needs a Java 17+ runtime on PATH (or JAVA_HOME): "
                        "e.g. apt-get install openjdk-17-jre-headless (README, docs/spark.md)")
    version = java_major_version(str(java))
    if version is not None and version < 17:
        # Spark 4 does not start on it: its launcher's only word is that the gateway exited
        raise UserError(f"ANALYTICS_ENGINE=spark needs a Java 17+ runtime, and {java} is Java {version}: "
                        "install one (e.g. apt-get install openjdk-17-jre-headless) and put it first on PATH "
                        "or in JAVA_HOME (README, docs/spark.md)")


@functools.cache
def java_major_version(java: str) -> int | None:
    """The major version `java -version` names (8 for "1.8.0_292", 17 for "17.0.15"); None when it
    cannot be told (the JVM then gives its own error, if any)."""
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def spark_tables(manifest: Path) -> list[tuple[str, str]]:
    """(schema, table) of every table the dbt project builds on Spark: seeds and the models that are
    tables or incremental (staging's views read raw, which the build file has already)."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted(
        (node["schema"], node["alias"]) for node in nodes
        if node["resource_type"] == "seed"
        or (node["resource_type"] == "model" and node["config"]["materialized"] in ("table", "incremental")))


def spark_files(parameter: str = "?") -> str:
    """DuckDB's read of Spark's Parquet files (a list, the query's `parameter`) by their own columns.
    Read as Hive partitions, every `key=value` folder on their path (a user's `env=prod/` above the
    warehouse) would be a column too; the partition columns are taken from the folder names by the
    callers that need them (export_date), or are Spark's alone (user_bucket)."""
    return f"read_parquet({parameter}, hive_partitioning = false)"


def table_folder(spark_dir: Path, schema: str, table: str) -> Path:
    """Where Spark keeps a managed table's files: the profile's spark.sql.warehouse.dir/<schema>.db/<table>."""
    return spark_dir / "warehouse" / f"{schema}.db" / table


def empty_table_folder(spark_dir: Path, schema: str, table: str) -> Path:
    """Where a user-keyed table left with no partition (so with no Parquet file) has its columns
    written, as one empty Parquet file (macros/spark_user_buckets.sql, spark_finish_user_buckets)."""
    return spark_dir / "empty_tables" / f"{schema}.{table}"


def table_files(spark_dir: Path, schema: str, table: str) -> list[str]:
    """The Parquet files of a Spark table (user-keyed tables are partitioned by bucket:
    user_bucket=<n>/part-*.parquet); for a partitioned table left with no partition, the empty
    file of its columns.

    Only the files Spark itself reads: none under a folder or with a name starting with `.` or `_`,
    where a write cut short leaves its files (a dynamic partition overwrite's
    `.spark-staging-<job>/`, a committer's `_temporary/`), which Spark's readers skip."""
    folder = table_folder(spark_dir, schema, table)
    if not folder.is_dir():
        raise RuntimeError(f"Spark built no table {schema}.{table} (no folder {folder})")
    files = sorted(str(path) for path in folder.rglob("*.parquet")
                   if not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts))
    if files:
        return files
    empty = empty_table_folder(spark_dir, schema, table)
    files = sorted(str(path) for path in empty.glob("*.parquet"))
    if not files:
        raise RuntimeError(f"Spark's table {schema}.{table} has no Parquet file in {folder} nor in {empty}")
    return files


def import_spark_tables(build: Path, spark_dir: Path, manifest: Path) -> dict[str, float]:
    """Replaces the build file's copy of every Spark-built table with Spark's rows, in one transaction
    (a reader of the next publish sees all of one build or, if this fails, nothing of it); returns
    the rows per table and the seconds it took."""
    started = time.perf_counter()
    tables = spark_tables(manifest)
    counts: dict[str, float] = {}
    conn = duckdb.connect(str(build), config=DuckDBLimits.from_env().config())
    try:
        with transaction(conn):
            for schema, table in tables:
                files = table_files(spark_dir, schema, table)
                source = conn.sql(f"select * from {spark_files()}", params=[files])
                columns = [c for c in source.columns if c not in SPARK_ONLY_COLUMNS]
                select = ", ".join(f'"{c}"' for c in columns)
                conn.execute(f'create schema if not exists "{schema}"')
                conn.execute(f'create or replace table "{schema}"."{table}" as select {select} from {spark_files()}',
                             [files])
                counts[f"{schema}.{table}"] = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    finally:
        conn.close()
    counts["seconds"] = round(time.perf_counter() - started, 3)
    return counts
