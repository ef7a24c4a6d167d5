"""ruff, as configured in pyproject.toml, finds nothing in the repository's Python (run by CI
through pytest, like tests/test_lint_sql.py for the SQL)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

RUFF = str(Path(sys.executable).parent / "ruff")


def test_python_passes_ruff():
    proc = subprocess.run([RUFF, "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ruff found problems (ruff check --fix):\n{proc.stdout}\n{proc.stderr}"


# docs/architecture.md, "Which way the arrows go": the folders each folder of orchestration/ may
# import (errors.py, files.py, processes.py and settings.py aside), counting the imports inside functions too.
MAY_IMPORT = {
    "load": set(),
    "build": {"load"},
    "publish": set(),
    "serve": {"load", "publish"},
    "demo": {"load"},
    "defs": {"load", "build", "publish", "serve"},
    "cli": {"load", "build", "publish", "serve", "demo", "defs", "definitions"},
    "definitions": {"defs", "build"},
}
SHARED = {"errors": set(), "files": set(), "processes": set(), "settings": {"errors"}}


def imported_modules() -> dict[str, set[str]]:
    """Each module of orchestration/ (dotted name): the modules of orchestration/ it imports."""
    package = REPO / "orchestration"
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = ".".join([*here[:len(here) - node.level + 1], *([node.module] if node.module else [])]) \
                    if node.level else node.module
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found.add(target if target in modules else base)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_each_folder_imports_only_the_stages_before_it():
    allowed = {**MAY_IMPORT, **SHARED}
    wrong = []
    for module, imports in imported_modules().items():
        part = module.split(".")[1] if "." in module else None
        if part is None:
            continue  # orchestration/__init__.py
        for target in imports:
            other = target.split(".")[1] if "." in target else None
            if other not in (part, None) and other not in allowed[part] and (part in SHARED or other not in SHARED):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against docs/architecture.md's arrows:\n" + "\n".join(sorted(wrong))


def test_no_module_imports_itself_through_others():
    graph = imported_modules()
    cycles = []
    for start in graph:
        seen, stack = set(), [(start, [start])]
        while stack:
            module, path = stack.pop()
            for target in graph[module]:
                if target == start:
                    cycles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles)[:10])
