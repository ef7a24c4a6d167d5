"""The dbt project's SQL and the report's queries pass sqlfluff with the repository's .sqlfluff
(issue #21: linters as the field uses them, run by CI through pytest). No database, no dbt parse:
the dbt project through the Jinja templater with dbt's builtins, the report's queries through the
placeholder templater."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO

SQLFLUFF = str(Path(sys.executable).parent / "sqlfluff")


def test_dbt_project_sql_passes_sqlfluff():
    proc = subprocess.run(
        [SQLFLUFF, "lint", "dbt_project/models", "dbt_project/tests", "dbt_project/macros",
         "--processes", "2", "--disable-progress-bar"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"sqlfluff lint found problems (sqlfluff fix <file>):\n{proc.stdout}\n{proc.stderr}"


def test_report_queries_pass_sqlfluff():
    """The report's SQL (orchestration/serve/queries/, which the report and the dashboard run) takes
    DuckDB's $name parameters, not Jinja: the placeholder templater, its param_style in that folder's
    .sqlfluff (a templater cannot be chosen in a nested config file, so it is chosen here)."""
    proc = subprocess.run(
        [SQLFLUFF, "lint", "--templater", "placeholder", "orchestration/serve/queries", "--disable-progress-bar"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, ("sqlfluff lint found problems (sqlfluff fix --templater placeholder <file>):\n"
                                  f"{proc.stdout}\n{proc.stderr}")
