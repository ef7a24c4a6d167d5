"""dbt's log lines, built only when they are written, in `assistant-analytics-dbt`.

dbt sends each of its events to every logger (dbt_common's `_Logger.write_line`): the logger turns
the event into its line (JSON through protobuf's `MessageToDict` and `json.dumps`, for dagster-dbt's
stdout and for dbt.log), and only then hands the line to a Python logger, which drops it when the
event's level is below the logger's. A refresh's dbt logs at `info` on both (stdout: dbt's default;
dbt.log: `--log-level-file info` unless ANALYTICS_VERBOSE), while most of its events are `debug`
(every query, its status, every connection used and closed, every node's start and end): so most
of the lines built were dropped, and building them was a large share of dbt's Python time per node
(profiled with py-spy on a small refresh). Here, a logger builds a line only when its Python logger
would write it, decided as that logger decides it (`Logger.isEnabledFor` with dbt's own level for
the event: print events as errors). Every line written stays byte for byte what dbt writes
(tests/test_dbt_log_lines.py).
"""

from __future__ import annotations

import functools
import logging

# dbt_common's send_to_logger: the logging call (hence the level) each event level goes out with
_PYTHON_LEVEL = {"debug": logging.DEBUG, "test": logging.DEBUG, "info": logging.INFO,
                 "warn": logging.WARNING, "error": logging.ERROR}


def build_only_written_lines() -> bool:
    """Makes dbt's loggers skip the lines their level drops, for the rest of this process. False (and
    nothing changed) if dbt_common no longer has what this relies on."""
    try:
        from dbt_common.events import logger as dbt_logger

        write_line = dbt_logger._Logger.write_line
        is_print_event = dbt_logger._is_print_event
    except (ImportError, AttributeError):
        return False
    if getattr(write_line, "builds_only_written_lines", False):
        return True

    @functools.wraps(write_line)
    def write_line_if_written(self, msg) -> None:
        python_logger = getattr(self, "_python_logger", None)
        level = "error" if is_print_event(msg) else msg.info.level
        if python_logger is not None and level in _PYTHON_LEVEL \
                and not python_logger.isEnabledFor(_PYTHON_LEVEL[level]):
            return  # the line would be built, then dropped
        write_line(self, msg)

    write_line_if_written.builds_only_written_lines = True
    dbt_logger._Logger.write_line = write_line_if_written
    return True
