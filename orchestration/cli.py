"""`assistant-analytics`: demo, refresh, report, export, dashboard.

Errors a user can cause print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
import warnings
from pathlib import Path

from .errors import UserError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.fullmatch(value):
            return value
    raise argparse.ArgumentTypeError(f"not an IP address or host name: {value!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"assistant-analytics: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse", type=Path, default=None,
                   help="DuckDB file (default: $ANALYTICS_WAREHOUSE, else data/warehouse.duckdb)")
    p.add_argument("--exports", type=Path, default=None,
                   help="exports root (default: $ANALYTICS_EXPORTS, else data/exports)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="assistant-analytics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="generate sample exports, refresh through Dagster, print a report")
    _common(p)
    p.add_argument("--days", type=int, default=28, help="export days to generate (default 28)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--format", choices=["json", "table"], default="table")

    p = sub.add_parser("refresh", help="load export days and rebuild what depends on them")
    _common(p)
    p.add_argument("--day", type=_date, action="append", default=[], help="export day (repeatable)")
    p.add_argument("--from", dest="from_", type=_date, help="first export day of a range (backfill)")
    p.add_argument("--to", type=_date, help="last export day of a range (backfill)")
    p.add_argument("--all", action="store_true", help="every export day found")
    p.add_argument("--full", action="store_true", help="rebuild every model from scratch")

    p = sub.add_parser("report", help="every module's KPIs for one assistant and period")
    _common(p)
    p.add_argument("--assistant", required=True)
    p.add_argument("--from", dest="from_", type=_date, required=True)
    p.add_argument("--to", type=_date, required=True)
    p.add_argument("--channel")
    p.add_argument("--format", choices=["json", "table"], default="json")

    p = sub.add_parser("export", help="write a mart, or the report, to CSV or Parquet")
    _common(p)
    p.add_argument("what", help="a mart name (e.g. fct_chats) or 'report'")
    p.add_argument("--output", "-o", type=Path, required=True)
    p.add_argument("--format", choices=["csv", "parquet"], default=None,
                   help="default: from the output's extension")
    p.add_argument("--assistant")
    p.add_argument("--from", dest="from_", type=_date)
    p.add_argument("--to", type=_date)
    p.add_argument("--channel")

    p = sub.add_parser("dashboard", help="the Analytics screens in a browser (Streamlit)")
    _common(p)
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--host", type=_host, default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 shares it on every interface)")
    return parser


def _resolve_paths(args: argparse.Namespace) -> None:
    # Flags win over the environment; the Dagster resources read the environment.
    from .settings import default_exports, default_warehouse

    args.warehouse = (args.warehouse or default_warehouse()).resolve()
    args.exports = (args.exports or default_exports()).resolve()
    os.environ["ANALYTICS_WAREHOUSE"] = str(args.warehouse)
    os.environ["ANALYTICS_EXPORTS"] = str(args.exports)


def _put_venv_on_path() -> None:
    # dagster-dbt runs `dbt` from PATH; a venv console script run by path has no venv on PATH.
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def main(argv: list[str] | None = None) -> int:
    _put_venv_on_path()
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    warnings.filterwarnings("ignore", message=".*is currently in preview.*")
    args = build_parser().parse_args(argv)
    _resolve_paths(args)
    from .commands import run_command  # heavy imports only after the arguments are good

    try:
        return run_command(args)
    except UserError as exc:
        print(f"assistant-analytics: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("assistant-analytics: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
