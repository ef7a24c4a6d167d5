"""What every incremental refresh's dbt run no longer pays (issue #20).

1. dbt's partial parsing holds from one incremental refresh to the next: nothing in a
refresh's dbt command line changes from one refresh to the next (no per-run --vars), and dbt's
target folder, where it keeps partial_parse.msgpack, is the same for every refresh of a warehouse.
A re-parse of the whole project cost every refresh several seconds, whatever its size. It holds
for the first refresh of a new warehouse too: dbt sees the build file by its name alone, so the
project's own parse (made for that name) is one it can take up.
2. Docs (table and column comments) are written when a relation is created, not again by every
   incremental run of an incremental model (dbt_project/macros/persist_docs.sql).

Black-box: two refreshes through the CLI, then dbt's own log of the second one (dbt writes
"Unable to do partial parsing because ..." when it parses everything again)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import duckdb
import pytest
from conftest import Workspace, event, write_export

from orchestration.build.dbt_project import PARSED_FOR_FILE_NAME, dbt_project, ensure_manifest, refresh_target_path
from orchestration.settings import build_path_for

pytestmark = pytest.mark.slow  # refreshes through the CLI



def chat(prefix: str, day: str, user: str) -> list[dict]:
    return [
        event(f"{prefix}-1", "user_message", f"{day}T10:00:00Z", user=user, message_id=f"{prefix}-1"),
        event(f"{prefix}-2", "bot_message", f"{day}T10:00:05Z", user=user, message_id=f"{prefix}-2"),
    ]


def dbt_invocations_since(target: Path, started: float) -> list[list[dict]]:
    """dbt's log events, grouped by invocation, of the dbt runs that wrote the log of `target` (one
    warehouse's dbt target folder: the other tests' refreshes write their own) since `started`
    (each event's `target` is the folder of its log)."""
    invocations: dict[str, list[dict]] = {}
    for log in [target / "dbt.log"]:
        if not log.exists() or log.stat().st_mtime < started:
            continue
        for line in log.read_text(errors="replace").splitlines():
            try:
                info = json.loads(line)["info"]
            except (ValueError, KeyError):
                continue
            if info.get("ts") and _epoch(info["ts"]) >= started:
                invocations.setdefault(info["invocation_id"], []).append({**info, "target": log.parent})
    return list(invocations.values())


def _epoch(ts: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def dbt_runs_since(target: Path, started: float) -> list[list[dict]]:
    return [inv for inv in dbt_invocations_since(target, started)
            if any(e["name"] == "MainReportVersion" for e in inv)]


@dataclasses.dataclass
class NamedWorkspace(Workspace):
    warehouse_name: str = "warehouse.duckdb"

    @property
    def warehouse(self) -> Path:
        return self.root / self.warehouse_name


def warehouse_name_of_the_projects_parse() -> str:
    """The name of the warehouses whose first refresh can take up the project's parse: the one whose
    build file the parse was made for (ensure_manifest). A checkout whose first refresh was of
    another name (a demo with --warehouse /tmp/x.duckdb) keeps a parse for that name."""
    ensure_manifest()
    parsed_for = json.loads(dbt_project.manifest_path.with_name(PARSED_FOR_FILE_NAME).read_text())
    build_name = Path(parsed_for["build_file"]).name  # .<stem>.build.duckdb (build_path_for)
    name = build_name.removeprefix(".").removesuffix(".build.duckdb") + ".duckdb"
    assert build_path_for(Path(name)).name == build_name, build_name
    return name


@pytest.fixture(scope="module")
def two_refreshes(tmp_path_factory):
    """Two refreshes of one new warehouse (the first builds it, the second is incremental); the
    events of each one's dbt runs. The warehouse has the name the project's parse was made for."""
    ws = NamedWorkspace(tmp_path_factory.mktemp("ws"), warehouse_name_of_the_projects_parse())
    write_export(ws.exports, "2026-11-02", "part-0.jsonl", chat("a", "2026-11-02", "u1"))
    write_export(ws.exports, "2026-11-03", "part-0.jsonl", chat("b", "2026-11-03", "u2"))
    # dbt's debug events (parsing, every query) reach its log file with ANALYTICS_VERBOSE only
    verbose = {"ANALYTICS_VERBOSE": "1"}
    target = refresh_target_path(build_path_for(ws.warehouse))
    assert not target.exists(), "a new warehouse's dbt target folder exists before its first refresh"
    started = time.time() - 1  # log timestamps have microseconds; the clock is the same
    ws.cli("refresh", "--day", "2026-11-02", env=verbose)
    first = dbt_runs_since(target, started)
    started = time.time() - 1
    ws.cli("refresh", "--day", "2026-11-03", env=verbose)
    return ws, first, dbt_runs_since(target, started)


@pytest.fixture(scope="module")
def second_refresh(two_refreshes):
    ws, _, second = two_refreshes
    return ws, second


def assert_partially_parsed(invocations: list[list[dict]], which: str) -> None:
    assert len(invocations) == 1, f"expected one dbt run in the {which} refresh, found {len(invocations)}"
    names = {e["name"] for e in invocations[0]}
    reasons = [e["msg"] for e in invocations[0] if e["name"] == "UnableToPartialParse"]
    assert not reasons, f"the {which} refresh parsed the whole dbt project again: {reasons}"
    assert "PartialParsingEnabled" in names or "PartialParsingSkipParsing" in names, sorted(names)


def test_a_second_incremental_refresh_does_not_parse_the_project_again(second_refresh):
    assert_partially_parsed(second_refresh[1], "second")


def test_the_first_refresh_of_a_new_warehouse_takes_up_the_projects_parse(two_refreshes):
    """Its target folder starts with a copy of the project's partial_parse.msgpack (dagster-dbt),
    made by `ensure_manifest` for a warehouse of the same name: dbt parses only what changed."""
    _, first, _ = two_refreshes
    assert_partially_parsed(first, "first")


def test_an_incremental_run_does_not_write_the_docs_of_incremental_models_again(second_refresh):
    workspace, invocations = second_refresh
    assert len(invocations) == 1, f"expected one dbt run in the second refresh, found {len(invocations)}"
    [invocation] = invocations
    manifest = json.loads(dbt_project.manifest_path.read_text())  # a refresh writes none of its own
    incremental = {uid for uid, node in manifest["nodes"].items()
                   if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"}
    assert "model.assistant_analytics.fct_users" in incremental
    commented = set()
    for e in invocation:
        if "comment on " in e["msg"]:
            commented.update(re.findall(r'"node_id": "([^"]+)"', e["msg"]))
    assert commented, "the tables rebuilt on every run get their comments: none seen in dbt's log"
    assert not commented & incremental, sorted(commented & incremental)

    # written when the first refresh created them, still there
    conn = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        missing = conn.execute("""
            select table_name, column_name from duckdb_columns()
            where schema_name = 'marts' and table_name in ('fct_users', 'dim_chats') and comment is null
        """).fetchall()
        tables = conn.execute("""
            select count(*) from duckdb_tables()
            where schema_name = 'marts' and table_name in ('fct_users', 'dim_chats') and comment is not null
        """).fetchone()[0]
    finally:
        conn.close()
    assert not missing and tables == 2, missing


def test_every_mart_column_is_documented_in_its_yaml_and_every_documented_column_exists(second_refresh):
    """interfaces.md: the marts are "documented column by column in dbt's YAML". dbt itself lets a
    column go undocumented (its comment is then NULL) and a documented column be missing (no
    warning): each mart's columns in the warehouse and in its YAML are the same."""
    workspace, _ = second_refresh
    manifest = json.loads(dbt_project.manifest_path.read_text())
    documented = {node["alias"] or node["name"]: set(node["columns"])
                  for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["schema"] == "marts"}
    conn = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        built: dict[str, set[str]] = {}
        for table, column in conn.execute("select table_name, column_name from duckdb_columns() "
                                          "where schema_name = 'marts'").fetchall():
            built.setdefault(table, set()).add(column)
    finally:
        conn.close()
    assert set(built) == set(documented), sorted(set(built) ^ set(documented))
    problems = {table: {"not in the YAML": sorted(built[table] - documented[table]),
                        "not in the table": sorted(documented[table] - built[table])}
                for table in built if built[table] != documented[table]}
    assert not problems, problems
