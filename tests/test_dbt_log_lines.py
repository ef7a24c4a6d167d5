"""dbt's log lines built only when written (orchestration/build/dbt_log_lines.py): every logger
writes exactly the lines it wrote before, and builds no line its level drops."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import uuid

import pytest
from dbt.adapters.events.types import SQLQuery
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
    """Every line built, by any logger; dbt_common's write_line put back after the test."""
    monkeypatch.setattr(dbt_logger._Logger, "write_line", dbt_logger._Logger.write_line)
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
