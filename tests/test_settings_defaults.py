"""The defaults a refresh runs with when no ANALYTICS_* variable is set."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration import settings

REPO = Path(__file__).resolve().parent.parent


def test_unset_memory_limit_gives_the_refresh_connections_the_default(monkeypatch):
    monkeypatch.delenv("ANALYTICS_DUCKDB_MEMORY_LIMIT", raising=False)
    config = settings.DuckDBLimits.from_env().config()
    with duckdb.connect(config=config) as conn, duckdb.connect(config={"memory_limit": "3GB"}) as expected:
        got = conn.execute("select current_setting('memory_limit')").fetchone()[0]
        assert got == expected.execute("select current_setting('memory_limit')").fetchone()[0]
    with duckdb.connect() as unlimited:  # DuckDB's own default is a share of the machine's memory
        assert got != unlimited.execute("select current_setting('memory_limit')").fetchone()[0]


def rendered_profile(monkeypatch, **env: str | None) -> dict:
    """profiles.yml's outputs as dbt renders them (dbt's own renderer) with these ANALYTICS_*
    variables (None: unset)."""
    import os

    import yaml
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    set_invocation_context(dict(os.environ))
    raw = yaml.safe_load((REPO / "profiles.yml").read_text())
    return ProfileRenderer(cli_vars={}).render_data(raw)["assistant_analytics"]["outputs"]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_profiles_yml_reads_a_variable_unset_or_set_to_nothing_as_settings_does(monkeypatch, value):
    """Settings take a variable set to nothing (`ANALYTICS_DBT_THREADS= assistant-analytics ...`) as
    unset; so must dbt, which got a thread count of 0 and failed the refresh after its load."""
    names = ("ANALYTICS_DBT_THREADS", "ANALYTICS_DUCKDB_MEMORY_LIMIT", "ANALYTICS_DUCKDB_THREADS",
             "ANALYTICS_WAREHOUSE")
    outputs = rendered_profile(monkeypatch, **dict.fromkeys(names, value))
    duckdb_target, spark_target = outputs["main"], outputs["spark"]
    assert duckdb_target["threads"] == spark_target["threads"] == settings.dbt_threads()
    limits = settings.DuckDBLimits.from_env()
    memory_limit = duckdb_target["config_options"]["memory_limit"]
    assert memory_limit == limits.memory_limit == settings.DEFAULT_DUCKDB_MEMORY_LIMIT
    assert limits.threads is None and duckdb_target["config_options"]["threads"] == "2"  # README: `2` (dbt)
    assert duckdb_target["path"] == "../data/warehouse.duckdb"
    spark_tables = spark_target["server_side_parameters"]["spark.sql.warehouse.dir"]
    assert spark_tables == "../data/warehouse.duckdb.spark/warehouse"


def test_profiles_yml_takes_a_set_variable_without_its_blanks(monkeypatch):
    outputs = rendered_profile(monkeypatch, ANALYTICS_DBT_THREADS=" 3 ", ANALYTICS_DUCKDB_MEMORY_LIMIT=" 1.5GiB ",
                               ANALYTICS_DUCKDB_THREADS=" 1 ", ANALYTICS_WAREHOUSE=" /w/x.duckdb ")
    limits = settings.DuckDBLimits.from_env()
    assert outputs["main"]["threads"] == outputs["spark"]["threads"] == settings.dbt_threads() == 3
    assert outputs["main"]["config_options"]["memory_limit"] == limits.memory_limit == "1.5GiB"
    assert outputs["main"]["config_options"]["threads"] == str(limits.threads) == "1"
    assert outputs["main"]["path"] == "/w/x.duckdb"


def test_unset_engine_is_duckdb(monkeypatch):
    monkeypatch.delenv("ANALYTICS_ENGINE", raising=False)
    assert settings.analytics_engine() == "duckdb"
    monkeypatch.setenv("ANALYTICS_ENGINE", "spark")
    assert settings.analytics_engine() == "spark"


def test_the_spark_class_archive_is_in_the_users_cache_folder_unless_off(monkeypatch, tmp_path):
    monkeypatch.delenv("ANALYTICS_SPARK_CLASS_ARCHIVE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert settings.spark_class_archive_dir() == tmp_path / "assistant-analytics"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the XDG spec says
    assert settings.spark_class_archive_dir() == Path.home() / ".cache" / "assistant-analytics"
    monkeypatch.setenv("ANALYTICS_SPARK_CLASS_ARCHIVE", "off")
    assert settings.spark_class_archive_dir() is None
