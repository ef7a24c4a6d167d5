"""Shared helpers: write small hand-made exports and drive the public CLI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "assistant-analytics")


def event(event_id, event_type, occurred_at, *, assistant="acme-support", channel="web", user="u1",
          conversation="c1", user_agent=None, **properties) -> dict:
    """One valid-looking event; keyword arguments become its properties."""
    e = {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "assistant_id": assistant,
        "channel": channel,
        "user_id": user,
        "conversation_id": conversation,
        "properties": properties,
    }
    if user_agent is not None:
        e["user_agent"] = user_agent
    return e


def write_export(exports: Path, day: str, name: str, lines: list) -> Path:
    """Writes one export file; items are dicts (dumped as JSON) or raw strings (written as they are)."""
    folder = exports / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    path = folder / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Workspace:
    root: Path

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def cli(self, *args: str, check: bool = True, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The CLI on this workspace; no ANALYTICS_* setting of the caller leaks in, only `env`'s."""
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}, **(env or {})}
        env["DAGSTER_HOME"] = str(self.root / "dagster_home")
        (self.root / "dagster_home").mkdir(exist_ok=True)
        cmd = [CLI, args[0], "--warehouse", str(self.warehouse), "--exports", str(self.exports), *args[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=self.root)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def report(self, assistant: str, date_from: str, date_to: str, channel: str | None = None) -> dict:
        args = ["report", "--assistant", assistant, "--from", date_from, "--to", date_to, "--format", "json"]
        if channel:
            args += ["--channel", channel]
        return json.loads(self.cli(*args).stdout)

    def query(self, sql: str, params=None) -> list[tuple]:
        conn = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ws"))
