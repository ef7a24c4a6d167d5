"""Progress of a long refresh (days done / total, lines/s), for the command line to display.

Dagster runs the assets in this process when the CLI drives the job; the CLI installs a printer.
"""

from __future__ import annotations

from collections.abc import Callable

_listener: Callable[[str], None] | None = None


def set_listener(listener: Callable[[str], None] | None) -> None:
    global _listener
    _listener = listener


def report(message: str) -> None:
    if _listener is not None:
        _listener(message)
