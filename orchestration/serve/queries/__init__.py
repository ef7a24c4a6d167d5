"""The SQL of the report, one file per mart (`users.sql` reads marts.fct_users, ...), and
`report.sql`, which puts them together; `metrics.toml` says what each reported number means.

The report (`assistant-analytics report`, `export report`) and the dashboard run these files and
no other KPI SQL. Every query takes named parameters: $assistant, $date_from, $date_to, $channel
(NULL: all channels) and $prev_from (the first day of the previous period); only those a query
names are passed to it.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

FOLDER = Path(__file__).parent

# The queries that report.sql reads, each as a CTE of its file's name; one per mart it reads.
REPORT_PARTS = ("users", "chats", "messages", "handover", "feedback", "csat", "outcomes", "answers",
                "retention", "traffic", "clicks", "agents")


@functools.cache
def read(name: str) -> str:
    """The text of `<name>.sql`."""
    return (FOLDER / f"{name}.sql").read_text()


@functools.cache
def report_sql() -> str:
    """report.sql with every part in front of it, as `with users as materialized (<users.sql>), ...`:
    each part is computed once, though report.sql reads it for the periods and for the days."""
    parts = ",\n".join(f"{name} as materialized (\n{read(name)}\n)" for name in REPORT_PARTS)
    return f"with\n{parts}\n{read('report')}"


@functools.cache
def metrics() -> dict:
    """metrics.toml: per report module, its title, caption, and its numbers' labels and meanings."""
    with open(FOLDER / "metrics.toml", "rb") as f:
        return tomllib.load(f)
