"""`assistant-analytics`: demo, refresh, report, export, status, dashboard.

Errors a user can cause print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import ipaddress
import logging
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

from ..errors import UserError, one_line, say, standard_output

PROG = "assistant-analytics"

EXAMPLES = {
    None: """\
examples:
  assistant-analytics demo
  assistant-analytics refresh --all
  assistant-analytics report --assistant acme-support --from 2026-11-01 --to 2026-11-07 --format table
  assistant-analytics export report --assistant acme-support --from 2026-11-01 --to 2026-11-07 -o week.parquet
  assistant-analytics status

Run `assistant-analytics COMMAND --help` for a command's options.""",
    "demo": """\
examples:
  assistant-analytics demo
  assistant-analytics demo --days 7 --exports /tmp/exports --warehouse /tmp/demo.duckdb""",
    "refresh": """\
examples:
  assistant-analytics refresh --day 2026-11-22
  assistant-analytics refresh --day 2026-11-21 --day 2026-11-22
  assistant-analytics refresh --from 2026-11-01 --to 2026-11-30
  assistant-analytics refresh --all --full
  assistant-analytics refresh --full          # rebuild the models without reloading

Give the days one way only: --day (repeatable), --from/--to, or --all.""",
    "report": """\
examples:
  assistant-analytics report --assistant acme-support --from 2026-11-01 --to 2026-11-07
  assistant-analytics report --assistant acme-support --from 2026-11-01 --to 2026-11-07 --channel web --format table""",
    "export": """\
examples:
  assistant-analytics export fct_chats -o chats.csv --assistant acme-support --from 2026-11-01 --to 2026-11-30
  assistant-analytics export data_quality_daily -o quality.parquet
  assistant-analytics export report -o week.csv --assistant acme-support --from 2026-11-01 --to 2026-11-07

A mart export filters on the columns the mart has (--from/--to on its local or export date);
`report` needs --assistant, --from and --to and writes one row per value.""",
    "status": """\
examples:
  assistant-analytics status
  assistant-analytics status --format json""",
    "dashboard": """\
examples:
  assistant-analytics dashboard
  assistant-analytics dashboard --port 8600
  assistant-analytics dashboard --host 0.0.0.0   # share it with the network""",
}


def _date(value: str) -> dt.date:
    from ..settings import iso_day

    day = iso_day(value)
    if day is None:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}")
    return day


def _text(value: str) -> str:
    """An id or name given on the command line (an assistant, a channel, a mart): text, i.e. bytes
    that are UTF-8. Other bytes reach Python as lone surrogates, which no query can take (DuckDB
    refused them as if the warehouse were damaged)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(value).decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"not valid UTF-8: '{shown}'") from None
    return value


def _output(value: str) -> Path | str:
    # `-` is standard output (exporting.STANDARD_OUTPUT), kept a string: `-o ./-` is a file named "-"
    return value if value == "-" else Path(value)


_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.fullmatch(value):
            return value
    raise argparse.ArgumentTypeError(f"not an IP address or host name: {value!r}")


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a whole number >= 1: {value!r}")
    return number


def _version() -> str:
    """The package's version, and the commit of the clone it runs from: the version number alone
    does not tell an operator whether a `git pull` took effect."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version(PROG)
    except PackageNotFoundError:  # run from a checkout that was never installed
        number = "unknown (not installed)"
    commit = checkout_commit()
    return f"{number} (commit {commit})" if commit else number


def checkout_commit() -> str | None:
    """The commit checked out in the clone the package runs from (README: installed from a clone,
    editable), its first 12 hex digits, read from `.git` without running git (a nightly job's PATH
    may have none); None outside a clone or when `.git` cannot be read as git writes it."""
    from ..settings import PROJECT_ROOT

    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8").strip()

    git = PROJECT_ROOT / ".git"
    try:
        if git.is_file():  # a worktree's: "gitdir: <its folder>", whose commondir holds the refs
            git = (PROJECT_ROOT / read(git).removeprefix("gitdir:").strip()).resolve()
        common = (git / read(git / "commondir")).resolve() if (git / "commondir").is_file() else git
        head = read(git / "HEAD")
        if head.startswith("ref: "):
            ref = head.removeprefix("ref: ")
            if (common / ref).is_file():
                head = read(common / ref)
            else:
                packed = (line.partition(" ") for line in read(common / "packed-refs").splitlines())
                head = next((commit for commit, _, name in packed if name == ref), "")
    except (OSError, UnicodeDecodeError):
        return None
    # a commit's hex name (SHA-1 or SHA-256), not a ref of a ref or anything else
    return head[:12] if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", head) else None


class _StoreOnce(argparse._StoreAction):
    """An option that takes one value, refused when given again: argparse would keep the last one
    silently, and `--assistant a --assistant b` is more likely a slip than a choice."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = vars(namespace).setdefault("_options_given", set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given more than once; give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        # An option is its whole name: argparse would take a prefix (`--fro`) as the option it begins,
        # and a typo that is a prefix of another option (`--form` of `--format`) as that other one.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str) -> None:  # one line, exit 2
        say(one_line(f"{PROG}: error: {message}"))
        raise SystemExit(2)

    def _print_message(self, message: str, file=None) -> None:
        """The help and --version are the command's result, on stdout as `write_result` writes one:
        a stdout that is closed or cannot take them is one line and exit 2, not silence and exit 0."""
        if not message:
            return
        if file is not None and file is not sys.stdout:
            say(message.rstrip("\n"))
            return
        with standard_output("the result") as out:
            out.write(message)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse", type=Path, default=None,
                   help="DuckDB file (default: $ANALYTICS_WAREHOUSE, else data/warehouse.duckdb)")
    p.add_argument("--exports", type=Path, default=None,
                   help="exports root holding dt=YYYY-MM-DD folders "
                        "(default: $ANALYTICS_EXPORTS, else data/exports)")


def _command(sub, name: str, help_: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=help_, epilog=EXAMPLES[name])
    _common(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0], epilog=EXAMPLES[None])
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = _command(sub, "demo", "generate sample exports, refresh through Dagster, print a report")
    p.add_argument("--days", type=_positive_int, default=28, help="export days to generate (default 28)")
    p.add_argument("--seed", type=int, default=7, help="random seed of the sample (default 7)")
    p.add_argument("--format", choices=["json", "table"], default="table",
                   help="how to print the report (default table)")

    p = _command(sub, "refresh", "load export days and rebuild what depends on them")
    p.add_argument("--day", type=_date, action="append", default=[], metavar="YYYY-MM-DD",
                   help="an export day to load (repeatable)")
    p.add_argument("--from", dest="from_", type=_date, metavar="YYYY-MM-DD",
                   help="first export day of a range (a backfill; needs --to)")
    p.add_argument("--to", type=_date, metavar="YYYY-MM-DD", help="last export day of a range (needs --from)")
    p.add_argument("--all", action="store_true", help="load every export day found under --exports")
    p.add_argument("--full", action="store_true",
                   help="rebuild every model from scratch (alone: rebuild without reloading exports)")

    p = _command(sub, "report", "every module's KPIs for one assistant and period")
    p.add_argument("--assistant", required=True, type=_text, metavar="ID",
                   help="assistant id (as in seeds/assistants.csv)")
    p.add_argument("--from", dest="from_", type=_date, required=True, metavar="YYYY-MM-DD",
                   help="first local date of the period")
    p.add_argument("--to", type=_date, required=True, metavar="YYYY-MM-DD", help="last local date of the period")
    p.add_argument("--channel", type=_text, metavar="CH", help="only this channel (e.g. web); default: all channels")
    p.add_argument("--format", choices=["json", "table"], default="json", help="output format (default json)")

    p = _command(sub, "export", "write a mart, or the report, to CSV or Parquet")
    p.add_argument("what", type=_text, metavar="MART|report", help="a mart name (e.g. fct_chats) or 'report'")
    p.add_argument("--output", "-o", type=_output, required=True, metavar="FILE",
                   help="file to write (.csv or .parquet), replaced if it exists; - for standard output "
                   "(CSV unless --format parquet)")
    p.add_argument("--format", choices=["csv", "parquet"], default=None,
                   help="file format (default: from the output's extension)")
    p.add_argument("--assistant", type=_text, metavar="ID", help="only this assistant")
    p.add_argument("--from", dest="from_", type=_date, metavar="YYYY-MM-DD", help="first local date to include")
    p.add_argument("--to", type=_date, metavar="YYYY-MM-DD", help="last local date to include")
    p.add_argument("--channel", type=_text, metavar="CH", help="only this channel")

    p = _command(sub, "status", "what the warehouse holds and how its refreshes went")
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default table)")

    p = _command(sub, "dashboard", "the Analytics screens in a browser (Streamlit)")
    p.add_argument("--port", type=_port, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--host", type=_host, default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 shares it on every interface)")
    return parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def command_names(parser: argparse.ArgumentParser) -> list[str]:
    return list(_commands(parser))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The arguments, or one line on stderr and exit 2; a mistyped command gets a suggestion."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        _refuse_a_word_before_the_command(parser, argv)
    if argv and not argv[0].startswith("-"):
        names = command_names(parser)
        if argv[0] not in names:
            close = difflib.get_close_matches(argv[0], names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (commands: {', '.join(names)})"
            parser.error(f"unknown command {argv[0]!r}{hint}")
        # Before argparse: it reports a missing required option ahead of an unknown one, so a typo
        # in a required option (`--too`) would read "the following arguments are required: --to"
        unknown = _unknown_options(_commands(parser)[argv[0]], argv[1:])
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}{_option_hint(parser, argv[0], unknown)}")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{_option_hint(parser, args.command, unknown)}")
    vars(args).pop("_options_given", None)
    return args


def _refuse_a_word_before_the_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """One line for an option before the command: argparse's would name the missing COMMAND, or
    take the option's value for the command (`--warehouse x status`: "invalid choice: 'x'")."""
    name = argv[0].split("=", 1)[0]
    commands = _commands(parser)
    if any(name in _option_names(command) for command in commands.values()):
        command = next((word for word in argv if word in commands), "COMMAND")
        parser.error(f"{name} is an option of the commands: give it after the command ({PROG} {command} {name} ...)")
    close = difflib.get_close_matches(name, ["--help", "--version"], n=1)
    parser.error(f"unrecognized arguments: {argv[0]}" + (f"; did you mean {close[0]!r}?" if close else ""))


def _option_names(command: argparse.ArgumentParser) -> list[str]:
    return [o for a in command._actions for o in a.option_strings]


# A word that argparse reads as a negative number, not as an option (`--seed -5`)
_NEGATIVE_NUMBER = re.compile(r"-[0-9.]+")


def _unknown_options(command: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The words that look like options the command does not have: long ones (a prefix of one is
    not one: `allow_abbrev` is off) and short ones (`-O` for `-o`; a short option may carry its
    value, `-ox.csv`)."""
    options = _option_names(command)
    unknown = []
    for word in words:
        if word == "--":
            break
        if word.startswith("--"):
            name = word.split("=", 1)[0]
        elif word.startswith("-") and len(word) > 1 and not _NEGATIVE_NUMBER.fullmatch(word):
            name = word[:2]
        else:
            continue
        if name not in options:
            unknown.append(word)
    return unknown


def _option_hint(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> str:
    """"; did you mean '--channel'?" for the first mistyped option that is close to one of the command's
    (a short one that differs only in case: `-O` for `-o`)."""
    all_options = _option_names(_commands(parser)[command])
    options = [o for o in all_options if o.startswith("--")]
    for word in unknown:
        if not word.startswith("--") and word.startswith("-"):
            same_letter = [o for o in all_options if len(o) == 2 and o.lower() == word[:2].lower()]
            if same_letter:
                return f"; did you mean {same_letter[0]!r}?"
        if word.startswith("--") and word != "--":
            name = word.split("=", 1)[0]
            # the closest options first, as difflib.get_close_matches orders them (every command has
            # --help, --warehouse and --exports: two at least)
            (best, first), (second, other) = sorted(
                ((difflib.SequenceMatcher(None, name, option).ratio(), option) for option in options), reverse=True)[:2]
            # two when both are about as close (`--form`: `--format` or `--from`), else the closer one
            if second >= 0.75 and best - second < 0.05:
                return f"; did you mean {first!r} or {other!r}?"
            if best >= 0.6:  # get_close_matches' cutoff
                return f"; did you mean {first!r}?"
    return ""


def _resolve_paths(args: argparse.Namespace) -> None:
    # Flags win over the environment; the commands pass these paths on (to the Dagster run as config).
    from ..settings import default_exports, default_warehouse, default_warehouse_given_as, resolved_path

    warehouse_given_as = "--warehouse" if args.warehouse else default_warehouse_given_as()
    args.warehouse = resolved_path(args.warehouse, "--warehouse") if args.warehouse else default_warehouse()
    args.exports = resolved_path(args.exports, "--exports") if args.exports else default_exports()
    if "\\" in str(args.warehouse):
        # DuckDB takes a backslash in a file's path for a folder separator: it would open another file
        raise UserError(f"{warehouse_given_as} {args.warehouse}: a path with a backslash (\\) cannot be a "
                        "DuckDB file's: DuckDB reads it as a folder separator")
    if getattr(args, "output", None) not in (None, "-"):
        resolved_path(args.output, "--output")  # checked only: the name as given tells the format


def quiet_library_logs() -> None:
    """A library's log record with no handler to take it prints through logging's last resort,
    traceback and all. SQLAlchemy's pool logs one ("Exception closing connection") when Ctrl-C
    lands while Dagster closes its SQLite storage: the interruption is this command's one line
    ("interrupted"), and a failure to close a connection is nothing a user can act on."""
    pool_logs = logging.getLogger("sqlalchemy")
    pool_logs.addHandler(logging.NullHandler())
    pool_logs.propagate = False


def _check_working_folder() -> None:
    """Relative paths, the default warehouse and dbt's process all start from the working folder: one
    that was deleted after the shell changed into it is one line, not a traceback wherever it is used."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise UserError("the current folder no longer exists (deleted after the shell changed into it): "
                        "change to a folder that exists") from None


_signals_received: list[int] = []
# The commands that only read: a SIGTERM (kill, timeout) ends them through their clean-up (export's
# temporary files), not past it, and says "terminated".
_READ_COMMANDS = ("report", "export", "status")
# The commands that refresh: a SIGTERM is "interrupted" (130), as a Ctrl-C, before and between their
# Dagster runs too, where it would otherwise end the process at once with no line. A run itself
# gives SIGTERM the handler SIGINT has while it runs (dagster's setup_interrupt_handlers), and
# child_process.sigterm_kept puts this one back after it.
_REFRESH_COMMANDS = ("refresh", "demo")


def _on_signal(signum: int, _frame) -> None:
    # Remembered, because what it interrupts may not say so: DuckDB turns an exception raised here
    # during a query into RuntimeError("Query interrupted"), and an import cut short becomes an
    # ImportError. Either is then this command's one line, not a traceback.
    _signals_received.append(signum)
    raise KeyboardInterrupt


def _stopped_by_signal(command: str | None) -> int:
    if command in _READ_COMMANDS and signal.SIGTERM in _signals_received:
        say(f"{PROG}: terminated")
        return 128 + signal.SIGTERM
    say(f"{PROG}: interrupted")
    return 130


def _text_stdout() -> None:
    """A character the terminal's or the pipe's encoding lacks (an assistant's click title in
    Japanese under `PYTHONIOENCODING=ascii`) is written as an escape, as stderr writes it, not a
    traceback instead of the whole result."""
    if sys.stdout is not None and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    # first, so that a Ctrl-C from the start on is "interrupted"; not where SIGINT is ignored (a
    # background job of a non-interactive shell): child_process.interruptible decides there
    if handlers.get(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    _signals_received.clear()
    command = None
    try:
        _text_stdout()
        warnings.filterwarnings("ignore", message=".*is currently in beta.*")
        warnings.filterwarnings("ignore", message=".*is currently in preview.*")
        quiet_library_logs()
        args = parse_args(argv)
        command = args.command
        if handlers and command in (*_READ_COMMANDS, *_REFRESH_COMMANDS):
            signal.signal(signal.SIGTERM, _on_signal)
        _check_working_folder()
        _resolve_paths(args)
        from .commands import run_command  # heavy imports only after the arguments are good

        return run_command(args)
    except UserError as exc:
        if _signals_received:  # an error made of what the signal cut short
            return _stopped_by_signal(command)
        # one line, whatever the paths or values it names hold
        say(one_line(f"{PROG}: error: {exc}"))
        return 2
    except KeyboardInterrupt:
        return _stopped_by_signal(command)
    except BrokenPipeError:  # `... | head` closed stdout: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0
    except Exception:
        if _signals_received:
            return _stopped_by_signal(command)
        raise
    finally:
        for sig, handler in handlers.items():  # as they were, for a caller in this process (the tests)
            if handler is not None:
                signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())
