"""The dbt project as Dagster sees it, and the explicit prepare that builds its manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..settings import DBT_PROJECT_DIR, PROJECT_ROOT, build_path_for, default_warehouse
from .dagster_dbt_import import import_dagster_dbt_without_dbt_core
from .seeds import SEEDS_DIR

import_dagster_dbt_without_dbt_core()  # before dagster_dbt's first import here

from dagster_dbt import DbtProject  # noqa: E402

# No `dbt_project.prepare_if_dev()`: under `dagster dev` it runs `dbt parse` with the `dbt` found
# on PATH, and the Quickstart's venv, used without activating it, puts none there (the code
# location then fails to load). `ensure_manifest()` does the same job with the venv's own dbt.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=PROJECT_ROOT)


def refresh_target_path(build: Path, engine: str = "duckdb") -> Path:
    """dbt's target folder for the refreshes of one build file, the same every time: the
    partial_parse.msgpack a refresh leaves there lets the next one re-parse only what changed.
    (dagster-dbt otherwise gives every run a new folder with a copy of the project's msgpack, from a
    `dbt parse` run with other vars, so every refresh parsed the whole project.) Beside the build
    file, hidden as it is (`.<warehouse>.build.duckdb.dbt/`), with the refresh's dbt.log: it goes
    with the warehouse's folder, where under dbt_project/target a folder for every warehouse ever
    refreshed piled up. Each engine has its own (dbt parses a project anew for another target)."""
    build = build.resolve()
    return build.with_name(build.name + (".dbt" if engine == "duckdb" else f".dbt-{engine}"))


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's), found even when the venv is not activated;
    through `assistant-analytics-dbt` (orchestration/dbt_child.py), which ends with the process that
    started it."""
    for name in ("assistant-analytics-dbt", "dbt"):
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
    return shutil.which("assistant-analytics-dbt") or shutil.which("dbt") or "dbt"


def _sources_newer_than(path: Path) -> bool:
    stamp = path.stat().st_mtime
    roots = [DBT_PROJECT_DIR / "models", DBT_PROJECT_DIR / "macros", DBT_PROJECT_DIR / "tests",
             SEEDS_DIR]
    files = [DBT_PROJECT_DIR / "dbt_project.yml", PROJECT_ROOT / "profiles.yml"]
    for root in roots:
        if root.is_dir():
            files.extend(p for p in root.rglob("*") if p.is_file())
    return any(f.stat().st_mtime > stamp for f in files)


PARSED_FOR_FILE_NAME = "parsed_for.json"  # beside the manifest: the vars it was parsed with


def ensure_manifest(warehouse: Path | None = None) -> Path:
    """`dbt parse` when the manifest is missing or older than the project (partial parsing stays on).

    Parsed with the vars a refresh of `warehouse` (default: ANALYTICS_WAREHOUSE's) gives dbt, the
    build file's name (dbt_child.in_build_file_folder): the parse it keeps (partial_parse.msgpack)
    is then one that the first refresh of any warehouse of that name can take up."""
    manifest = dbt_project.manifest_path
    # Parsed for another name, it is not parsed again: refreshes of warehouses of two names would
    # each parse the whole project here. The mark is missing only after a parse without a name.
    parsed_for = manifest.with_name(PARSED_FOR_FILE_NAME)
    if manifest.exists() and parsed_for.exists() and not _sources_newer_than(manifest):
        return manifest
    env = dict(os.environ)
    env.setdefault("ANALYTICS_WAREHOUSE", str(PROJECT_ROOT / "data" / "warehouse.duckdb"))
    dbt_vars = json.dumps({"build_file": build_path_for(warehouse or default_warehouse()).name})
    proc = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--vars", dbt_vars,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(PROJECT_ROOT)],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    parsed_for.write_text(dbt_vars + "\n", encoding="utf-8")
    return manifest
