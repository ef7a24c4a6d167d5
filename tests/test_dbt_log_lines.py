"""dbt's log lines and events built only when taken (orchestration/build/dbt_log_lines.py): every
logger writes exactly the lines it wrote before, builds no line its level drops, and a debug event
that no logger writes and no callback wants is not made into a message."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import uuid

import pytest
from dbt.adapters.events.types import SQLQuery
from dbt_common.events import event_manager as dbt_event_manager
from dbt_common.events import logger as dbt_logger
from dbt_common.events.base_types import EventLevel, msg_from_base_event
from dbt_common.events.logger import LineFormat, LoggerConfig
from dbt_common.events.types import Note, PrintEvent

from orchestration.build.dbt_log_lines import build_only_written_lines

FORMATS = (LineFormat.Json, LineFormat.DebugText, LineFormat.PlainText)


def events() -> list:
    """Events of every level, a print event (written whatever the level) and one of dbt's own debug
    events; the same messages for every logger, so that their time stamps are the same."""
    msgs = [msg_from_base_event(Note(msg=f"a note at {level.value}"), level=level) for level in EventLevel]
    msgs.append(msg_from_base_event(PrintEvent(msg="printed")))
    msgs.append(msg_from_base_event(SQLQuery(conn_name="main", sql="select 1", node_info={})))
    return msgs


def written(level: EventLevel, line_format: LineFormat, msgs: list) -> str:
    stream = io.StringIO()
    config = LoggerConfig(name=f"test-{uuid.uuid4()}", level=level, line_format=line_format, output_stream=stream)
    logger = dbt_logger._JsonLogger(config) if line_format == LineFormat.Json else dbt_logger._TextLogger(config)
    for msg in msgs:
        logger.write_line(msg)
    # a plain-text line starts with the clock's time when it is built, not the event's
    return re.sub(r"^\d\d:\d\d:\d\d  ", "", stream.getvalue(), flags=re.M)


@pytest.fixture
def lines_built(monkeypatch) -> list:
    """Every line built, by any logger; dbt_common's write_line and fire_event put back after the test."""
    monkeypatch.setattr(dbt_logger._Logger, "write_line", dbt_logger._Logger.write_line)
    monkeypatch.setattr(dbt_event_manager.EventManager, "fire_event", dbt_event_manager.EventManager.fire_event)
    built = []
    for cls in (dbt_logger._JsonLogger, dbt_logger._TextLogger):
        def create_line(self, msg, _create=cls.create_line):
            built.append(msg.info.name)
            return _create(self, msg)
        monkeypatch.setattr(cls, "create_line", create_line)
    return built


def test_every_logger_writes_the_same_lines_and_builds_only_those(lines_built):
    msgs = events()
    cases = [(level, fmt) for level in EventLevel for fmt in FORMATS]
    before = {case: written(*case, msgs) for case in cases}
    built_before = len(lines_built)
    assert built_before == len(cases) * len(msgs)  # every line built, written or not

    assert build_only_written_lines()
    del lines_built[:]
    after = {case: written(*case, msgs) for case in cases}
    assert after == before
    # one line built per line written
    assert len(lines_built) == sum(text.count("\n") for text in after.values())
    assert len(lines_built) < built_before
    at_info = written(EventLevel.INFO, LineFormat.Json, msgs)
    assert '"name": "SQLQuery"' not in at_info and '"name": "PrintEvent"' in at_info
    assert "a note at info" in at_info and "a note at debug" not in at_info


def test_applying_it_twice_wraps_once(lines_built):
    assert build_only_written_lines()
    first = dbt_logger._Logger.write_line
    assert build_only_written_lines()
    assert dbt_logger._Logger.write_line is first


@pytest.mark.slow
def test_dbt_runs_with_it_in_assistant_analytics_dbt():
    code = ("from orchestration.build.dbt_child import run_dbt_cli\n"
            "from dbt_common.events import logger\n"
            "status = run_dbt_cli(['--version'])\n"
            "print('applied:', getattr(logger._Logger.write_line, 'builds_only_written_lines', False), status)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "applied: True 0"


def fired(manager_level: EventLevel, callbacks: list, made: list) -> tuple[str, int]:
    """A Note fired at each level and one of dbt's debug events, through an event manager with one
    JSON logger at `manager_level`: what the logger wrote, and how many messages were made."""
    made.clear()
    manager = dbt_event_manager.EventManager()
    stream = io.StringIO()
    manager.add_logger(LoggerConfig(name=f"test-{uuid.uuid4()}", level=manager_level, line_format=LineFormat.Json,
                                    output_stream=stream))
    for callback in callbacks:
        manager.add_callback(callback)
    for level in EventLevel:
        manager.fire_event(Note(msg=f"a note at {level.value}"), level=level)
    manager.fire_event(SQLQuery(conn_name="main", sql="select 1", node_info={}))
    return re.sub(r'"ts": "[^"]+"', '"ts": ""', stream.getvalue()), len(made)  # each message's own time


@pytest.fixture
def messages_made(monkeypatch, lines_built) -> list:
    """The events made into messages (by name); dbt_common's put back after the test."""
    made: list = []

    def msg_from_base_event(event, level=None, _make=dbt_event_manager.msg_from_base_event):
        made.append(type(event).__name__)
        return _make(event, level=level)
    monkeypatch.setattr(dbt_event_manager, "msg_from_base_event", msg_from_base_event)
    return made


def test_a_debug_event_nobody_takes_is_not_made_into_a_message(messages_made):
    seen_by_a_callback: list = []

    def wants_every_event(msg):
        seen_by_a_callback.append(msg.info.level)

    def wants_no_debug_event(msg):
        pass

    wants_no_debug_event.takes_debug_events = False
    before = {level: fired(level, [wants_no_debug_event], messages_made) for level in EventLevel}
    assert all(count == 6 for _, count in before.values())  # 5 notes and the query: every event made

    assert build_only_written_lines()
    after = {level: fired(level, [wants_no_debug_event], messages_made) for level in EventLevel}
    assert {level: text for level, (text, _) in after.items()} == {level: text for level, (text, _) in before.items()}
    assert after[EventLevel.INFO][1] == 3  # info, warn, error: the debug and test notes and the query not made
    assert after[EventLevel.DEBUG][1] == 6  # a logger that writes debug lines gets every event
    # a callback that may want debug events gets them, whatever the loggers write
    text, count = fired(EventLevel.INFO, [wants_no_debug_event, wants_every_event], messages_made)
    assert count == 6 and seen_by_a_callback.count("debug") == 2 and text == before[EventLevel.INFO][0]
