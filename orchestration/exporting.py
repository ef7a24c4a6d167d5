"""`assistant-analytics export`: a mart, or the report, to CSV or Parquet (written by DuckDB's COPY)."""

from __future__ import annotations

import argparse
import json
import re

import duckdb

from .errors import UserError
from .report import ReportError, ReportParams, build_report, connect_read_only

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = args.output.suffix.lower()
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    raise UserError(f"cannot tell the format from {args.output.name!r}: give --format csv|parquet")


def export(args: argparse.Namespace) -> None:
    fmt = _format(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = connect_read_only(args.warehouse)
    except ReportError as exc:
        raise UserError(str(exc)) from None
    try:
        if args.what == "report":
            _export_report(conn, args, fmt)
        else:
            _export_mart(conn, args, fmt)
    finally:
        conn.close()


def _export_mart(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace, fmt: str) -> None:
    name = args.what.removeprefix("marts.")
    marts = {r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    if not _NAME.match(name) or name not in marts:
        raise UserError(f"unknown mart {args.what!r}; marts: {', '.join(sorted(marts))}")
    filters = []
    if args.assistant:
        filters.append(f"assistant_id = {_literal(args.assistant)}")
    columns = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
        [name]).fetchall()}
    if args.channel and "channel" in columns:
        filters.append(f"channel = {_literal(args.channel)}")
    date_col = next((c for c in ("chat_local_date", "local_date", "export_date") if c in columns), None)
    if date_col and args.from_:
        filters.append(f"{date_col} >= DATE '{args.from_.isoformat()}'")
    if date_col and args.to:
        filters.append(f"{date_col} <= DATE '{args.to.isoformat()}'")
    where = f" where {' and '.join(filters)}" if filters else ""
    options = "(format parquet)" if fmt == "parquet" else "(format csv, header true)"
    conn.execute(f"copy (select * from marts.{name}{where}) to {_literal(str(args.output))} {options}")


def _export_report(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace, fmt: str) -> None:
    if not (args.assistant and args.from_ and args.to):
        raise UserError("export report needs --assistant, --from and --to")
    try:
        report = build_report(conn, ReportParams(args.assistant, args.from_, args.to, args.channel))
    except ReportError as exc:
        raise UserError(str(exc)) from None
    # One row per KPI: module, kpi (dotted path), value; lists become one row per item field.
    rows = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{prefix}[{i}]", item)
        else:
            rows.append((prefix.split(".")[0].split("[")[0], prefix, None if value is None else json.dumps(value)))

    walk("", report)
    mem = duckdb.connect()
    mem.execute("create table report (module varchar, kpi varchar, value varchar)")
    mem.executemany("insert into report values (?, ?, ?)", rows)
    options = "(format parquet)" if fmt == "parquet" else "(format csv, header true)"
    mem.execute(f"copy report to {_literal(str(args.output))} {options}")
    mem.close()


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
