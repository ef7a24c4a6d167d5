"""`assistant-analytics export`: a mart, or the report, to CSV or Parquet.

The filters are checked by the same function as `report`'s (report.validate_filters) and reach
DuckDB as parameters. The file is written beside its destination and renamed over it, so a failed
export leaves no half-written file. `-o -` writes to standard output, as Unix tools take `-`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import functools
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

from ..errors import UserError, first_line, standard_output
from ..load.exports import export_day_folder_holding
from ..settings import build_path_for, lock_path_for
from .report import (
    ReportParams,
    build_report,
    connect_read_only,
    outdated_warehouse_error,
    period_notice,
    report_notices,
    validate_filters,
)

_NAME = re.compile(r"[a-z_][a-z0-9_]*")  # whole names only (fullmatch): `$` would let a final line break by
_DATE_COLUMNS = ("chat_local_date", "local_date", "export_date")  # a mart's date, in this order of preference
STANDARD_OUTPUT = "-"  # `-o -` (the CLI keeps it a string: `-o ./-` is a file named "-")


def _format(args: argparse.Namespace) -> str:
    if args.output == STANDARD_OUTPUT:
        return args.format or "csv"  # text for the pipe or the terminal, unless Parquet is asked for
    name = args.output.name.lower()
    suffix = args.output.suffix.lower()
    named = suffix[1:] if suffix in (".csv", ".parquet") else "csv" if name.endswith(".csv.gz") else None
    if args.format == "parquet" and suffix == ".gz":
        # Parquet compresses its own pages: a gzip around it is no file a tool reads as Parquet
        raise UserError(f"--format parquet into {args.output.name!r} (a .gz name): Parquet is compressed "
                        "inside; give a .parquet name, or --format csv for a gzip CSV")
    if args.format:
        # Parquet in a file called .csv (or the other way round) opens as garbage in the next tool
        if named and named != args.format:
            raise UserError(f"--format {args.format} contradicts --output {args.output.name!r} "
                            f"(a .{named} name): give one or make them agree")
        return args.format
    if named:
        return named
    raise UserError(f"cannot tell the format from {args.output.name!r}: give --format csv|parquet")


def check_output(output: Path, warehouse: Path, exports: Path) -> None:
    """A destination that can never be written is an error before any work; so are the warehouse,
    the platform's export days, and anything but a regular file (a device, a FIFO: the export
    renames its file over the destination, which would replace such a file, not write into it)."""
    from ..publish.publish import spare_path_for
    from .status import record_path_for

    target = output.resolve()

    def is_one_of(paths: list[Path]) -> bool:
        resolved = {p.resolve() for p in paths}
        return target in resolved or (target.exists() and any(p.exists() and target.samefile(p) for p in resolved))

    if is_one_of([warehouse, build_path_for(warehouse), spare_path_for(warehouse)]):
        raise UserError(f"refusing to write over the warehouse: {output}")
    # the files a refresh keeps beside the warehouse: its lock and its record (status)
    if is_one_of([lock_path_for(warehouse), record_path_for(warehouse)]):
        raise UserError(f"refusing to write over a file the warehouse's refreshes keep: {output}")
    # the export files are the platform's: this warehouse reads them, it never writes them (events.md)
    if export_day_folder_holding(target, exports):
        raise UserError(f"refusing to write into an export day folder of {exports}: {output}")
    if target.is_dir():
        raise UserError(f"--output {output} is a directory: give a file name (e.g. {output / 'export.csv'})")
    if target.exists() and not target.is_file():
        raise UserError(f"cannot write {output}: not a regular file (a device, a FIFO or a socket)")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"cannot write {output}: {parent} is a file, not a directory")
            break


def export(args: argparse.Namespace) -> list[str]:
    """Writes the file; returns the notes for stderr about its period (no data, past the loaded
    days; for the report, a previous period that begins before them), as `report` prints them."""
    to_stdout = args.output == STANDARD_OUTPUT
    if to_stdout:
        check_standard_output(args.format)
    else:
        check_output(args.output, args.warehouse, args.exports)
    fmt = _format(args)
    conn = connect_read_only(args.warehouse, args.exports)
    try:
        timezone = validate_filters(conn, assistant=args.assistant, date_from=args.from_, date_to=args.to,
                                    channel=args.channel)
        if args.what == "report":
            relation = _report_relation(conn, args, timezone)
            notes = report_notices(conn, ReportParams(args.assistant, args.from_, args.to, args.channel)).lines
        else:
            relation = _mart_relation(conn, args)
            notice = period_notice(conn, assistant=args.assistant, date_from=args.from_, date_to=args.to,
                                   channel=args.channel)
            notes = [notice] if notice else []
        if to_stdout:
            _write_to_standard_output(relation, fmt)
        else:
            _write_atomically(relation, args.output.resolve(), fmt)  # through a symbolic link, which stays
    finally:
        conn.close()
    return notes


def check_standard_output(fmt: str | None) -> None:
    """`-o -`: a standard output that exists, and Parquet (bytes) never to a terminal."""
    if sys.stdout is None:  # started with its stdout closed (`>&-`)
        raise UserError("-o -: standard output is closed: the export has nowhere to go")
    if fmt == "parquet" and sys.stdout.isatty():
        raise UserError("-o - --format parquet: Parquet is binary, not for a terminal: pipe it or give -o FILE.parquet")


_ERRNO = re.compile(r'"errno"\s*:\s*"?(\d+)')  # in DuckDB's IO error, a JSON object after its text


def _write_error_reason(exc: BaseException) -> str:
    """Why a file could not be written, in the system's words: DuckDB's IO error carries the errno
    in a JSON object (`Async write failed for range ...: {"exception_type":"IO",...,"errno":"28"}`)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    found = _ERRNO.search(str(exc))
    return os.strerror(int(found.group(1))) if found else first_line(exc)


def _write_file(relation: duckdb.DuckDBPyRelation, path: Path, fmt: str, *, gzip: bool = False) -> None:
    """`gzip`: a CSV compressed with gzip, for a destination named `.gz` (DuckDB would infer it from
    the name, but it writes a temporary name first)."""
    if fmt == "parquet":
        relation.write_parquet(str(path))
    else:
        relation.write_csv(str(path), header=True, **({"compression": "gzip"} if gzip else {}))


def _write_to_standard_output(relation: duckdb.DuckDBPyRelation, fmt: str) -> None:
    """The whole file, written first (DuckDB's own CSV or Parquet), then copied to stdout: a failure
    to read the warehouse leaves nothing printed (errors.standard_output says what a stdout that
    cannot take it gives)."""
    with tempfile.TemporaryDirectory(prefix="assistant-analytics-export-") as folder:
        tmp = Path(folder) / f"export.{fmt}"
        try:
            _write_file(relation, tmp, fmt)
        except duckdb.Error as exc:
            if str(tmp) not in str(exc) and tmp.name not in str(exc):
                raise  # reading the warehouse failed (a damaged block): the command says so
            raise UserError(f"cannot write the export to a temporary file in {folder}: {_write_error_reason(exc)}") \
                from None
        with tmp.open("rb") as written, standard_output("the export") as out:
            out.flush()  # anything printed before the bytes goes first
            shutil.copyfileobj(written, out.buffer)
            out.buffer.flush()


def _write_atomically(relation: duckdb.DuckDBPyRelation, output: Path, fmt: str) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder of {output}: {exc.strerror}") from None
    # a name of its own, not the destination's with more added: a destination name near the file
    # system's limit (255 bytes) still has room for it and for DuckDB's `tmp_` before it
    tmp = output.with_name(f".assistant-analytics-export-{os.getpid()}.tmp")
    duckdbs_tmp = tmp.with_name(f"tmp_{tmp.name}")  # DuckDB writes the file it is given under this name first
    try:
        tmp.touch()  # says why a destination cannot be written in the system's words, before DuckDB's
        _write_file(relation, tmp, fmt, gzip=output.name.lower().endswith(".gz"))
        with contextlib.suppress(OSError):
            # a file the user kept private (chmod 600) stays so when the export replaces it
            shutil.copymode(output, tmp)
        os.replace(tmp, output)
    except (duckdb.Error, OSError) as exc:
        if isinstance(exc, duckdb.Error) and tmp.name not in str(exc):
            raise  # reading the warehouse failed (a damaged block), not writing the file: the command says so
        raise UserError(f"cannot write {output}: {_write_error_reason(exc)}") from None
    finally:
        # also when a signal ends the export (main turns SIGINT and SIGTERM into an exception)
        for left in (tmp, duckdbs_tmp):
            with contextlib.suppress(OSError):
                left.unlink(missing_ok=True)


@functools.cache
def marts_of_this_version() -> dict[str, list[str]]:
    """Each mart this version builds, with the columns its YAML documents (dbt_project/models/marts)."""
    import yaml

    from ..settings import DBT_PROJECT_DIR

    marts = {}
    for path in sorted((DBT_PROJECT_DIR / "models" / "marts").glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            marts[model["name"]] = [column["name"] for column in model.get("columns", [])]
    return marts


def _check_built_by_this_version(name: str, marts: set[str], columns: set[str], args: argparse.Namespace) -> None:
    """A mart an older version built lacks what this version's has (a mart new since, a column):
    the report's one line and its remedy, not an `unknown mart`, nor a file with the old columns."""
    expected = marts_of_this_version().get(name)
    if expected is None:
        return
    if name not in marts:
        lacks = f"no mart {name}"
    else:
        missing = [c for c in expected if c not in columns]
        if not missing:
            return
        lacks = f"marts.{name} has no {', '.join(missing)}"
    raise outdated_warehouse_error(args.warehouse, args.exports, lacks)


def _mart_relation(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> duckdb.DuckDBPyRelation:
    name = args.what.removeprefix("marts.")
    marts = {r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    ordered_columns = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
        "order by ordinal_position", [name]).fetchall()]
    columns = set(ordered_columns)
    _check_built_by_this_version(name, marts, columns, args)
    if not _NAME.fullmatch(name) or name not in marts:
        # a table of another layer is named as such: analysts and BI tools use marts only
        elsewhere = [r[0] for r in conn.execute(
            "select distinct table_schema from information_schema.tables where table_name = ? "
            "and table_schema <> 'marts' order by 1", [name.rsplit(".", 1)[-1].lower()]).fetchall()]
        if elsewhere:
            hint = f" ({name.rsplit('.', 1)[-1]!r} is in {', '.join(elsewhere)}, not in marts: export writes marts)"
        else:
            # a close name only when it is likely the one meant (`fct_chat`, `users`), not any name
            # that shares a few letters (`stg_events` and `fct_agents`)
            close = difflib.get_close_matches(name.lower(), [*marts, "report"], n=1, cutoff=0.65)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"unknown mart {args.what!r}{hint}; marts: {', '.join(sorted(marts))}")
    date_col = next((c for c in _DATE_COLUMNS if c in columns), None)
    # A filter the mart cannot apply is a mistake, never silently ignored. Column names come from
    # the catalog; the values are parameters.
    wanted = [("--assistant", args.assistant, "assistant_id", "="), ("--channel", args.channel, "channel", "="),
              ("--from", args.from_, date_col, ">="), ("--to", args.to, date_col, "<=")]
    filters, params = [], []
    for option, value, column, op in wanted:
        if value is None:
            continue
        if column is None or column not in columns:
            # the dates --from and --to filter on: a mart with other dates (dim_users'
            # first_chat_local_date) is not a mart of one row per day
            has = ("none of " + ", ".join(_DATE_COLUMNS) if option in ("--from", "--to")
                   else f"no {column} column")
            raise UserError(f"{option} cannot filter {name}: it has {has}")
        filters.append(f'"{column}" {op} ?')
        params.append(value)
    where = f" where {' and '.join(filters)}" if filters else ""
    # Rows in date order, then by every column: the same file for the same data, whatever order a
    # full or an incremental build left the rows in.
    sort = ", ".join(f'"{c}"' for c in [*([date_col] if date_col else []), *ordered_columns])
    return conn.sql(f"select * from marts.{name}{where} order by {sort}", params=params)


# Fields of a breakdown row that say which cell its numbers belong to, with their column types;
# every other field of a row is a number.
KEY_COLUMNS = {
    "date": "DATE", "weekday": "BIGINT", "hour": "BIGINT",
    "device_type": "VARCHAR", "browser": "VARCHAR",
    "click_type": "VARCHAR", "title": "VARCHAR", "destination_type": "VARCHAR", "destination": "VARCHAR",
    "agent_id": "VARCHAR", "name": "VARCHAR", "kind": "VARCHAR",
}
CONTEXT_COLUMNS = {"assistant_id": "VARCHAR", "channel": "VARCHAR", "period": "VARCHAR",
                   "period_from": "DATE", "period_to": "DATE", "module": "VARCHAR", "metric": "VARCHAR"}


def tidy_report(report: dict) -> list[dict]:
    """One row per number of the report, in one walk over its JSON shape.

    `module` is the top-level key, `metric` the path below it (`total`, `by_trigger.direct`,
    `by_device.users`); a list of breakdown rows contributes its key fields as columns. The
    `previous` period's modules give rows with period 'previous'.
    """
    rows: list[dict] = []
    context = {"assistant_id": report.get("assistant_id"), "channel": report.get("channel")}

    def walk(base: dict, path: tuple[str, ...], value, keys: dict) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(base, (*path, str(k)), v, keys)
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    raise TypeError(f"report list {'.'.join(path)} holds {item!r}, not rows")
                row_keys = {**keys, **{k: v for k, v in item.items() if k in KEY_COLUMNS}}
                for k, v in item.items():
                    if k not in KEY_COLUMNS:
                        walk(base, (*path, k), v, row_keys)
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            rows.append({**base, "metric": ".".join(path[1:]) or path[0], **keys, "value": value})
        else:
            raise TypeError(f"report field {'.'.join(path)} is neither a number nor a breakdown key: {value!r}")

    periods = [("current", report)]
    if isinstance(report.get("previous"), dict):
        periods.append(("previous", report["previous"]))
    for period, part in periods:
        base = {**context, "period": period, "period_from": part.get("from"), "period_to": part.get("to")}
        for module, value in part.items():
            # Scalars at the top (assistant_id, timezone, from, to, channel) are the context columns.
            if module != "previous" and isinstance(value, (dict, list)):
                walk({**base, "module": module}, (module,), value, {})
    return rows


def _report_relation(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace,
                     timezone: str | None) -> duckdb.DuckDBPyRelation:
    """The report as a tidy table; `timezone`: the assistant's, from the filters' check."""
    if not (args.assistant and args.from_ and args.to):
        raise UserError("export report needs --assistant, --from and --to")
    report = build_report(conn, ReportParams(args.assistant, args.from_, args.to, args.channel), timezone=timezone)
    import pyarrow as pa

    columns = {**CONTEXT_COLUMNS, **KEY_COLUMNS, "value": "DOUBLE"}
    rows = tidy_report(report)
    # one Arrow table of typed columns, inserted at once: a year's report is thousands of rows, and
    # inserting them one statement each took seconds
    tidy = pa.table({c: pa.array([_typed(row.get(c), t) for row in rows], type=_ARROW_TYPES[t])
                     for c, t in columns.items()})
    mem = duckdb.connect()
    mem.execute("create table report (" + ", ".join(f'"{c}" {t}' for c, t in columns.items()) + ")")
    mem.register("tidy", tidy)
    mem.execute("insert into report select * from tidy")
    mem.unregister("tidy")
    return mem.table("report")


_ARROW_TYPES = {"DATE": "date32", "BIGINT": "int64", "VARCHAR": "string", "DOUBLE": "float64"}


def _typed(value, sql_type: str):
    if value is not None and sql_type == "DATE" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value
