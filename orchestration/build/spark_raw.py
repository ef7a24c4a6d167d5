"""The Spark engine's input (docs/spark.md): Spark reads the DuckDB loader's raw tables.

`write_raw_parquet` writes each raw table the models read as Parquet files beside the Spark
warehouse; `register_raw_tables` registers them as the Spark tables raw.<name> through dbt (the
profile's `spark` target, so Spark is configured in one place: profiles.yml). The seeds reach Spark through
`dbt seed`/`dbt build` as on DuckDB. A Spark loader job would replace this (docs/spark.md, what is left).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb

from ..errors import UserError
from ..settings import DBT_PROJECT_DIR, PROJECT_ROOT
from .dbt_project import dbt_executable

# The raw tables the models read (dbt_project/models/staging/_platform__sources.yml).
RAW_TABLES = ("events", "rejected_lines", "export_files", "export_days", "pending_users")

# A path that goes into Spark SQL as a literal: no quote, backslash or control character.
_SAFE_PATH = re.compile(r"[^'\\\x00-\x1f]+")


def raw_parquet_folder(spark_dir: Path) -> Path:
    return spark_dir / "raw_parquet"


def write_raw_parquet(warehouse: Path, folder: Path) -> dict[str, int]:
    """One Parquet file per raw table under folder/<table>/; returns the rows written per table.
    JSON columns become text (Spark has no JSON type; get_json_object reads text)."""
    counts = {}
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table in RAW_TABLES:
            columns = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position", [table]).fetchall()
            if not columns:
                raise UserError(f"{warehouse} has no table raw.{table}: load it first (assistant-analytics refresh)")
            select = ", ".join(
                f'cast("{name}" as varchar) as "{name}"' if data_type == "JSON" else f'"{name}"'
                for name, data_type in columns)
            target = folder / table
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            # COPY returns the number of rows it wrote: no second scan of the table to count them
            counts[table] = conn.execute(
                f"copy (select {select} from raw.{table}) to '{target / 'part-0.parquet'}' (format parquet)"
            ).fetchone()[0]
    finally:
        conn.close()
    return counts


def dbt_spark_args(spark_dir: Path, target_path: Path) -> list[str]:
    """The arguments every dbt command on the spark target takes: the profile, the Spark folder and
    a target folder (and logs) of its own, so that the DuckDB refreshes' manifest stays untouched."""
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(PROJECT_ROOT), "--target", "spark",
            "--target-path", str(target_path), "--log-path", str(target_path / "logs"),
            "--vars", json.dumps({"spark_dir": str(spark_dir)})]


def check_spark_dir(spark_dir: Path) -> Path:
    """The Spark folder, absolute; its path goes into Spark SQL as a literal, so a quote in it is
    refused before any file is written or any process started."""
    spark_dir = spark_dir.resolve()
    if not _SAFE_PATH.fullmatch(str(spark_dir)):
        raise UserError(f"the Spark folder's path must not contain quotes, backslashes or control characters: "
                        f"{spark_dir!r}")
    return spark_dir


def register_raw_tables(spark_dir: Path, target_path: Path) -> None:
    """Registers the Parquet copies as Spark's tables raw.<name> (external tables: Spark's catalog
    keeps their location and columns, so a later copy into the same folders needs no new
    registration, only a new Spark session, which every dbt run is)."""
    spark_dir = check_spark_dir(spark_dir)
    folder = raw_parquet_folder(spark_dir)
    args = json.dumps({"folder": str(folder), "tables": list(RAW_TABLES)})
    cmd = [dbt_executable(), "run-operation", "register_raw_parquet", "--args", args,
           *dbt_spark_args(spark_dir, target_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    if proc.returncode != 0:
        raise RuntimeError(f"registering the raw tables in Spark failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
