"""The dbt resource skips what dagster-dbt would do before every dbt run and this project never
uses: a `dbt --version` process and an in-process dbt adapter (see ProjectDbtCliResource)."""

from __future__ import annotations

import inspect
import subprocess
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from packaging.version import Version

from orchestration.defs.resources import ProjectDbtCliResource, make_resources


def test_dagster_dbt_still_calls_what_the_resource_overrides():
    # If dagster-dbt renames these, the overrides would silently stop saving anything.
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source and "self._initialize_dbt_core_adapter(" in source
    assert hasattr(DbtCliResource, "_cli_version") and hasattr(DbtCliResource, "_initialize_dbt_core_adapter")


def test_the_version_comes_without_starting_dbt(monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "check_output", lambda *a, **k: started.append(a) or b"")
    resource = make_resources()["dbt"]
    assert isinstance(resource, ProjectDbtCliResource)
    assert resource._cli_version == Version(version("dbt-core"))
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    assert started == []


def test_a_dbt_from_elsewhere_is_still_asked_its_version(tmp_path):
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:\n  - installed: 9.8.7'\n")
    fake.chmod(0o755)
    resource = ProjectDbtCliResource(project_dir=str(make_resources()["dbt"].project_dir), dbt_executable=str(fake))
    assert resource._cli_version == Version("9.8.7")
