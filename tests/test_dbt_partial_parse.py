"""dbt's partial parsing holds from one incremental refresh to the next (issue #20): nothing in a
refresh's dbt command line changes from one refresh to the next (no per-run --vars), and dbt's
target folder, where it keeps partial_parse.msgpack, is the same for every refresh of a warehouse.
A re-parse of the whole project cost every refresh several seconds, whatever its size.

Black-box: two refreshes through the CLI, then dbt's own log of the second one (dbt writes
"Unable to do partial parsing because ..." when it parses everything again)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import REPO, event, write_export

DBT_TARGET = REPO / "dbt_project" / "target"


def chat(prefix: str, day: str, user: str) -> list[dict]:
    return [
        event(f"{prefix}-1", "user_message", f"{day}T10:00:00Z", user=user, message_id=f"{prefix}-1"),
        event(f"{prefix}-2", "bot_message", f"{day}T10:00:05Z", user=user, message_id=f"{prefix}-2"),
    ]


def dbt_invocations_since(started: float) -> list[list[dict]]:
    """dbt's log events, grouped by invocation, of the dbt runs that wrote a log since `started`."""
    invocations: dict[str, list[dict]] = {}
    for log in DBT_TARGET.glob("*/dbt.log"):
        if log.stat().st_mtime < started:
            continue
        for line in log.read_text(errors="replace").splitlines():
            try:
                info = json.loads(line)["info"]
            except (ValueError, KeyError):
                continue
            if info.get("ts") and _epoch(info["ts"]) >= started:
                invocations.setdefault(info["invocation_id"], []).append(info)
    return list(invocations.values())


def _epoch(ts: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def test_a_second_incremental_refresh_does_not_parse_the_project_again(workspace):
    write_export(workspace.exports, "2026-11-02", "part-0.jsonl", chat("a", "2026-11-02", "u1"))
    write_export(workspace.exports, "2026-11-03", "part-0.jsonl", chat("b", "2026-11-03", "u2"))
    workspace.cli("refresh", "--day", "2026-11-02")

    started = time.time() - 1  # log timestamps have microseconds; the clock is the same
    workspace.cli("refresh", "--day", "2026-11-03")

    invocations = [inv for inv in dbt_invocations_since(started)
                   if any(e["name"] == "MainReportVersion" or "Running with dbt" in e.get("msg", "") for e in inv)]
    assert len(invocations) == 1, f"expected one dbt run in the second refresh, found {len(invocations)}"
    names = {e["name"] for e in invocations[0]}
    reasons = [e["msg"] for e in invocations[0] if e["name"] == "UnableToPartialParse"]
    assert not reasons, f"the second refresh parsed the whole dbt project again: {reasons}"
    assert "PartialParsingEnabled" in names or "PartialParsingSkipParsing" in names, sorted(names)
