"""The Spark engine's folder and its Spark configuration, from one place (docs/spark.md).

Two processes start a Spark for a refresh, one after the other: the Spark loader's job
(orchestration/load/spark_job.py) and dbt (profiles.yml's `spark` target, dbt-spark's session
method, inside dbt's process). Both must see the same tables: the same warehouse folder and the
same Derby metastore, which one process at a time can open. So the loader takes its settings from
the profile's `spark` target (`server_side_parameters`, rendered by dbt with the same `spark_dir`
var a refresh gives dbt): profiles.yml stays the one place where Spark is configured.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UserError
from ..settings import PROJECT_ROOT

# A path that goes into Spark SQL as a literal: no quote, backslash or control character.
_SAFE_PATH = re.compile(r"[^'\\\x00-\x1f]+")


def check_spark_dir(spark_dir: Path) -> Path:
    """The Spark folder, absolute; its path goes into Spark SQL as a literal, so a quote in it is
    refused before any file is written or any process started."""
    spark_dir = spark_dir.resolve()
    if not _SAFE_PATH.fullmatch(str(spark_dir)):
        raise UserError(f"the Spark folder's path must not contain quotes, backslashes or control characters: "
                        f"{spark_dir!r}")
    return spark_dir


def spark_conf(spark_dir: Path) -> dict[str, str]:
    """The `spark` target's Spark settings (profiles.yml `server_side_parameters`) for this folder,
    rendered as dbt renders them for a refresh (var spark_dir given, so no environment is read)."""
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context({})
    raw = read_profile(str(PROJECT_ROOT))["assistant_analytics"]["outputs"]["spark"]
    rendered = ProfileRenderer({"spark_dir": str(spark_dir)}).render_data(raw)
    return {str(k): str(v) for k, v in rendered["server_side_parameters"].items()}


def start_spark(spark_dir: Path, app_name: str, overrides: dict[str, str] | None = None):
    """A SparkSession as dbt-spark's session method starts it (Hive catalog, the profile's settings),
    plus `overrides`."""
    import sys

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport().appName(app_name)
    # Python workers (createDataFrame of the careful path's rows) run this Python, not the first
    # python3 on PATH, which may be another version
    conf = {**spark_conf(spark_dir), "spark.pyspark.python": sys.executable, **(overrides or {})}
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
