"""User-facing errors: the CLI prints any of them as one line and exits with status 2.

Every error a user can cause (a bad option, a bad setting, a missing file, a busy warehouse)
derives from `UserError`; the CLI catches this one base class, nowhere translates by hand.
"""

import contextlib
import os
import sys
import unicodedata
from collections.abc import Iterator
from typing import TextIO


class UserError(Exception):
    """A mistake in the command line, a setting or the inputs; its message is the one line shown."""


class ReportError(UserError):
    """The report cannot be built from this warehouse for these parameters."""


class LoadError(UserError):
    """An export day cannot be loaded at all (a missing folder); bad lines are rejects, not this."""


class RefreshBusyError(UserError):
    """Another refresh holds the warehouse."""


class UnfinishedBuildError(UserError):
    """The build file holds work no dbt build has finished: publishing it would show a half-built state."""


def first_line(exc: BaseException) -> str:
    """An exception's first line of text, for a one-line message (its class name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def listed(items: list[str], shown: int = 5) -> str:
    """The first `shown` items, comma-separated, and how many more: a list kept to one line."""
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def spaces_shown(name: str) -> str:
    """A name as a comma-separated list shows it: in double quotes when white space starts or ends
    it, which the list would hide (`dt=2026-11-03 ` is not a day's folder, and would read as one)."""
    return f'"{name}"' if name != name.strip() else name


# Control and format characters, and the line and paragraph separators: what ends a line for a
# terminal or str.splitlines, and what a terminal acts on (an escape sequence); not the spaces of
# other scripts (no-break, ideographic) nor characters newer than this Python's Unicode tables.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def one_line(text: str) -> str:
    """A message, or a text of the data in a table's row, as one line, whatever the paths and values
    it names hold: each line break or other control character shown escaped (`\\n`, `\\x1b`, ...),
    not acted on by the terminal."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _ESCAPED_CATEGORIES
                   else ch for ch in text)


def say(text: str) -> None:
    """A line for the user on stderr (an error, a note, progress). A stderr that cannot take it (closed,
    or a log file on a full disk) loses the line, not the command: its work and its exit status stand."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, AttributeError):  # AttributeError: no stderr at all (started with it closed)
        pass


@contextlib.contextmanager
def standard_output(what: str) -> Iterator[TextIO]:
    """stdout for a command's result (`what`: "the result", "the export"), flushed on leaving. A stdout
    started closed (`>&-`), or that cannot take the result (a full disk under `> file`), is one line,
    not a traceback nor a result silently lost; a reader that stops early (`| head`) is a
    BrokenPipeError, which the CLI's main ends quietly."""
    if sys.stdout is None:
        raise UserError(f"standard output is closed: {what} has nowhere to go")
    try:
        yield sys.stdout
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        # what is left in stdout's buffer would fail again when Python flushes it at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise UserError(f"cannot write {what} to standard output: {exc.strerror or exc}") from None
