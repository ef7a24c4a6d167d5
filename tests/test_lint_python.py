"""ruff, as configured in pyproject.toml, finds nothing in the repository's Python (run by CI
through pytest, like tests/test_lint_sql.py for the SQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO

RUFF = str(Path(sys.executable).parent / "ruff")


def test_python_passes_ruff():
    proc = subprocess.run([RUFF, "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ruff found problems (ruff check --fix):\n{proc.stdout}\n{proc.stderr}"
