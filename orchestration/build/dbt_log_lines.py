"""dbt's log lines and events, built only when something takes them, in `assistant-analytics-dbt`.

dbt fires an event for everything it does (dbt_common's `EventManager.fire_event`): it turns the
event into a message (protobuf), gives it to every logger, and each logger turns it into its line
(JSON through protobuf's `MessageToDict` and `json.dumps`, for dagster-dbt's stdout and for dbt.log)
before a Python logger drops the line when the event's level is below the logger's. A refresh's
dbt logs at `info` on both (stdout: dbt's default; dbt.log: `--log-level-file info` unless
ANALYTICS_VERBOSE), while most of its events are `debug` (every query, its status, every connection
used and closed): thousands per refresh, each made into a message and two lines that nobody
wrote. That was a large share of dbt's Python time per node (profiled with py-spy on a small
refresh). Here:
- a logger builds a line only when its Python logger would write it, decided as that logger decides
  it (`Logger.isEnabledFor` with dbt's own level for the event: print events as errors);
- a debug event that no logger would write, and that no callback wants, is not made into a message
  at all. The callbacks that want no debug event say so with `takes_debug_events = False` (this
  project's own in dbt_child.py; dbt's behaviour-change tracking, which looks at warnings only, is
  marked here); any other callback gets every event, as before.
Every line written stays byte for byte what dbt writes (tests/test_dbt_log_lines.py).
"""

from __future__ import annotations

import functools
import logging
import os


def build_only_written_lines() -> bool:
    """Makes dbt build lines and messages only for the loggers and callbacks that take them, for the
    rest of this process. False (and nothing changed) if dbt_common no longer has what this relies
    on."""
    try:
        from dbt_common.events import logger as dbt_logger
        from dbt_common.events.base_types import EventLevel
        from dbt_common.events.event_manager import EventManager

        write_line = dbt_logger._Logger.write_line
        is_print_event = dbt_logger._is_print_event
        # each event level's Python logging level, as send_to_logger logs it (EventLevel is a str)
        python_level = dbt_logger._log_level_map
        fire_event = EventManager.fire_event
    except (ImportError, AttributeError):
        return False
    if getattr(write_line, "builds_only_written_lines", False):
        return True

    @functools.wraps(write_line)
    def write_line_if_written(self, msg) -> None:
        python_logger = getattr(self, "_python_logger", None)
        level = "error" if is_print_event(msg) else msg.info.level
        if python_logger is not None and level in python_level \
                and not python_logger.isEnabledFor(python_level[level]):
            return  # the line would be built, then dropped
        write_line(self, msg)

    debug_levels = (EventLevel.DEBUG, EventLevel.TEST)

    def debug_taken(manager) -> bool:
        return (any(getattr(logger, "_python_logger", None) is None
                    or logger._python_logger.isEnabledFor(logging.DEBUG) for logger in manager.loggers)
                or any(getattr(callback, "takes_debug_events", True) for callback in manager.callbacks))

    @functools.wraps(fire_event)
    def fire_event_if_taken(self, e, level=None, node=None, force_warn_or_error_handling=False) -> None:
        # the level msg_from_base_event gives the message: the one fired with, else the event's own
        if not force_warn_or_error_handling and (level or e.level_tag()) in debug_levels and not debug_taken(self):
            return
        fire_event(self, e, level=level, node=node, force_warn_or_error_handling=force_warn_or_error_handling)

    write_line_if_written.builds_only_written_lines = True
    dbt_logger._Logger.write_line = write_line_if_written
    # dbt's own test switch that serializes every message: then every event is made, as before
    if not os.environ.get("DBT_TEST_BINARY_SERIALIZATION"):
        try:
            from dbt.tracking import track_behavior_change_warn
        except ImportError:
            pass
        else:
            track_behavior_change_warn.takes_debug_events = False  # it looks at BehaviorChangeEvent (warn) only
        EventManager.fire_event = fire_event_if_taken
    return True
