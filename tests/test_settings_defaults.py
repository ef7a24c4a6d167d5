"""The defaults a refresh runs with when no ANALYTICS_* variable is set."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

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


def test_profiles_yml_gives_dbt_the_same_memory_default():
    profiles = (REPO / "profiles.yml").read_text()
    defaults = re.findall(r"env_var\('ANALYTICS_DUCKDB_MEMORY_LIMIT', '([^']+)'\)", profiles)
    assert defaults == [settings.DEFAULT_DUCKDB_MEMORY_LIMIT]


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
