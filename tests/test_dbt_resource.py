"""What dagster-dbt would do in the refresh's process and this project never uses, skipped: a
`dbt --version` process and an in-process dbt adapter before every dbt run (see
ProjectDbtCliResource), and importing dbt-core at all (build/dagster_dbt_import.py)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

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


# The asset graph as a process that loads the definitions sees it, and which dbt modules that
# process imported; with argv[1] == "core", dbt-core imported first (as dagster-dbt would by itself).
GRAPH_OF_A_PROCESS = r"""
import json, re, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "core":
    import dbt.version
from orchestration.definitions import defs
dbt_modules = sorted(m for m in sys.modules if m == "dbt" or m.startswith("dbt."))
graph = defs.resolve_asset_graph()
assets = {}
for key in graph.get_all_asset_keys():
    node = graph.get(key)
    assets[str(key)] = [sorted(map(str, node.parent_keys)), node.group_name, sorted(node.kinds), node.description,
                        repr(sorted(node.metadata.items())), node.tags, node.code_version, node.is_partitioned,
                        sorted(map(str, node.check_keys))]
checks = {str(k): [str(graph.get_check_spec(k).asset_key), graph.get_check_spec(k).blocking,
                   sorted(str(d.asset_key) for d in graph.get_check_spec(k).additional_deps)]
          for k in graph.asset_check_keys}
jobs = {job.name: sorted(job.graph.node_dict) for job in defs.resolve_all_job_defs()}
import dbt.version  # after the definitions, dbt imports as usual (the Spark loader's settings need it)
graph = re.sub(r" at 0x[0-9a-f]+", "", json.dumps([assets, checks, jobs], sort_keys=True, default=str))
print(json.dumps({"dbt_modules": dbt_modules, "graph": graph}))
"""


def _graph_of_a_process(mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", GRAPH_OF_A_PROCESS, mode], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_definitions_load_without_dbt_core_and_give_the_same_asset_graph():
    """The refresh's process (and `dagster dev`'s code server) never imports dbt-core: dbt runs in a
    process of its own. The assets, checks and jobs are those dagster-dbt makes with dbt-core."""
    lean, core = _graph_of_a_process("lean"), _graph_of_a_process("core")
    assert lean["dbt_modules"] == [], f"dbt-core imported while loading the definitions: {lean['dbt_modules'][:5]}"
    assert core["dbt_modules"], "the comparison's other side did not import dbt-core"
    assert lean["graph"] == core["graph"]
