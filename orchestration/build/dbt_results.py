"""Which nodes a dbt build failed on, from dbt's own events.

A refresh on DuckDB does not have dbt write its JSON artifacts (run_results.json, manifest.json):
writing the manifest twice per build was a good share of dbt's fixed cost, and nothing reads
them. dbt names each failed or errored node in its summary at the end (`RunResultError`, with the
node and the same message run_results.json would hold), and that is where the failure comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "Runtime Error in model x (path)" heads a model's error; the line after it says what went wrong
_ERROR_HEADING = re.compile(r"^\w+ Error in \w+ ")
MAX_NAMED = 3
# dbt's words when an incremental model's columns differ from the table's (on_schema_change='fail'):
# models of another version than the one that built the table, which only a full rebuild mends
_SCHEMA_CHANGED = "The source and target schemas on this incremental model are out of sync"
SCHEMA_CHANGE_REMEDY = "run `assistant-analytics refresh --full` once (a model's columns changed)"


class DbtBuildError(RuntimeError):
    """dbt build ended with failed or errored nodes; the message names them (`node: what`)."""


@dataclass
class NodeFailures:
    """Feed it each raw dbt event; `summary()` then names the nodes that failed, if any."""

    found: dict[str, str] = field(default_factory=dict)  # node name -> what went wrong

    def on_event(self, raw_event: dict) -> None:
        info, data = raw_event.get("info") or {}, raw_event.get("data") or {}
        if info.get("name") != "RunResultError":
            return
        unique_id = (data.get("node_info") or {}).get("unique_id")
        if unique_id:
            self.found.setdefault(unique_id.split(".")[2], _what_went_wrong(data.get("msg") or ""))

    def summary(self) -> str | None:
        if not self.found:
            return None
        named = [f"{node}: {what}" for node, what in list(self.found.items())[:MAX_NAMED]]
        more = len(self.found) - MAX_NAMED
        remedy = any(_SCHEMA_CHANGED in what for what in self.found.values())
        return ("; ".join(named) + (f" (and {more} more)" if more > 0 else "")
                + (f"; {SCHEMA_CHANGE_REMEDY}" if remedy else ""))


def _what_went_wrong(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and _ERROR_HEADING.match(lines[0]):
        lines = lines[1:]
    return lines[0] if lines else "failed"


# A Dagster error's message starts with its class name ("RuntimeError: ..."), which says nothing
_ERROR_CLASS_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


def step_failure_summary(events) -> str:
    """A failed run's one line from its Dagster events: the failed dbt nodes (DbtBuildError), or
    else the first failed step and the innermost error's first line, without the class name."""
    for event in events:
        if event.is_step_failure:
            chain, err = [], event.step_failure_data.error
            while err is not None:
                chain.append(err)
                err = err.cause
            failed_nodes = next((e for e in chain if e.cls_name == DbtBuildError.__name__), None)
            if failed_nodes is not None:
                return _ERROR_CLASS_PREFIX.sub("", failed_nodes.message.strip().splitlines()[0])
            message = chain[-1].message if chain else "unknown error"
            dbt_error = dbt_error_line(message)
            if dbt_error:
                return f"{event.step_key}: dbt failed: {dbt_error}"
            lines = message.strip().splitlines() or ["error"]
            first = _ERROR_CLASS_PREFIX.sub("", lines[0])
            return f"{event.step_key}: {first}"
    return "unknown error"


def dbt_error_line(message: str) -> str | None:
    """dbt's own error in dagster-dbt's message, whose first line only says that the dbt process
    failed: dagster-dbt appends the messages of dbt's error events (e.g. a failure before any node
    ran, which leaves no run_results.json) after "Errors parsed from dbt logs:"."""
    _, found, errors = message.partition("Errors parsed from dbt logs:")
    for line in errors.splitlines() if found else []:
        line = line.strip()
        # "Encountered an error:" heads the line that says what; a traceback follows it
        if line and not line.endswith(":") and not line.startswith("Traceback"):
            return line
    return None
