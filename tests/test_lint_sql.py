"""The dbt project's SQL and the report's queries pass sqlfluff with the repository's .sqlfluff
(issue #21: linters as the field uses them, run by CI through pytest). No database, no dbt parse:
the dbt project through the Jinja templater with dbt's builtins, the report's queries through the
placeholder templater.

A file that passed is recorded in the user's cache folder under a digest of everything its lint
reads (the file, the configuration files, for the dbt project the macros and the templater's
library, the installed packages' and Python's versions), and is not linted again until one of them
changes: the fast tier, run on every change, lints only what changed (docs/tests.md)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from orchestration.settings import user_cache_dir

SQLFLUFF = str(Path(sys.executable).parent / "sqlfluff")
# The names of the files sqlfluff reads its configuration (and ignore lists) from in a folder.
CONFIG_NAMES = (".sqlfluff", ".sqlfluffignore", "pyproject.toml", "setup.cfg", "tox.ini", "pep8.ini")
PASSED_LINTS = user_cache_dir() / "sqlfluff-passed"


def _config_files(files: list[Path]) -> set[Path]:
    """Every file sqlfluff may read its configuration from when it lints `files`, and more: those of
    every folder above each file (sqlfluff reads the folders from the one the file shares with the
    home folder down), of the home folder, and the user's configuration folder (sqlfluff's own
    choice of it, and ~/.config/sqlfluff)."""
    from sqlfluff.core.config.loader import _get_user_config_dir_path

    folders = {folder for p in files for folder in p.parents} | {Path.home()}
    user_folders = {Path(_get_user_config_dir_path(sys.platform)), Path.home() / ".config" / "sqlfluff"}
    return ({folder / name for folder in folders for name in CONFIG_NAMES}
            | {p for folder in user_folders if folder.is_dir() for p in folder.rglob("*")})


def _digest_of_inputs(files: list[Path], options: tuple[str, ...], read_too: tuple[str, ...]) -> bytes:
    """What the lint of any of `files` reads besides the file: Python's version and every installed
    package's (sqlfluff, its templater's Jinja, the dbt builtins' modules), the options, the
    configuration files, and `read_too` (files, or folders of them)."""
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest = hashlib.sha256(f"python {sys.version}, {installed}, {options}".encode())
    paths = _config_files(files)
    for name in read_too:
        top = REPO / name
        paths.update([top] if top.is_file() else top.rglob("*"))
    for path in sorted(p for p in paths if p.is_file() and "__pycache__" not in p.parts):
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path  # a clone elsewhere: the same
        digest.update(f"\0{name}\0".encode() + path.read_bytes())
    return digest.digest()


def assert_lint_passes(folders: tuple[str, ...], options: tuple[str, ...], read_too: tuple[str, ...] = ()) -> None:
    """sqlfluff lint with `options` passes on every .sql file under `folders`; only the files not
    recorded as passed under the same inputs are linted."""
    files = sorted(p for folder in folders for p in (REPO / folder).rglob("*.sql"))
    assert files, f"no SQL file under {folders}"
    shared = _digest_of_inputs(files, options, read_too)
    records = {p: PASSED_LINTS / hashlib.sha256(shared + f"\0{p.relative_to(REPO)}\0".encode() + p.read_bytes()
                                                ).hexdigest() for p in files}
    unlinted = [p for p in files if not records[p].exists()]
    if not unlinted:
        return
    proc = subprocess.run([SQLFLUFF, "lint", *options, "--disable-progress-bar",
                           *(str(p.relative_to(REPO)) for p in unlinted)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"sqlfluff lint found problems (sqlfluff fix {' '.join(options)} <file>):\n"
                                  f"{proc.stdout}\n{proc.stderr}")
    try:
        PASSED_LINTS.mkdir(parents=True, exist_ok=True)
        for path in unlinted:
            records[path].touch()
    except OSError:
        pass  # a cache folder that cannot be written: the next run lints these files again


def test_dbt_project_sql_passes_sqlfluff():
    # The templater loads every macro and the library's modules into each file's Jinja context
    # (.sqlfluff): a change to any of them lints every file again.
    assert_lint_passes(("dbt_project/models", "dbt_project/tests", "dbt_project/macros"), ("--processes", "2"),
                       read_too=("dbt_project/macros", "dbt_project/.sqlfluff_library"))


def test_report_queries_pass_sqlfluff():
    """The report's SQL (orchestration/serve/queries/, which the report and the dashboard run) takes
    DuckDB's $name parameters, not Jinja: the placeholder templater, its param_style in that folder's
    .sqlfluff (a templater cannot be chosen in a nested config file, so it is chosen here)."""
    assert_lint_passes(("orchestration/serve/queries",), ("--templater", "placeholder"))
