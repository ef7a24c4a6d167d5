"""The dbt project's SQL passes sqlfluff with the repository's .sqlfluff (issue #21: linters as
the field uses them, run by CI through pytest). Jinja templater with dbt's builtins: no database,
no dbt parse, a few seconds."""

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
