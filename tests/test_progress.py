"""Progress of a dbt build, fed with dbt's structured log events (no refresh, no dbt process).

The events below carry the fields dbt 1.11 writes in its JSON log (the names and keys seen in a
real `dbt build --log-format json`): ConcurrencyLine.node_count, LogStartLine and the result
events (LogModelResult, LogTestResult, SkippingDetails ...) with node_info and execution_time.
"""

from __future__ import annotations

import io
import os
import re
import time

import pytest

from orchestration.build import progress
from orchestration.build.dbt_results import NodeFailures
from orchestration.build.progress import DbtBuildCounter


def concurrency(nodes: int, threads: int = 2) -> dict:
    return {"info": {"name": "ConcurrencyLine"},
            "data": {"node_count": nodes, "num_threads": threads, "target_name": "main"}}


def node_info(name: str, kind: str = "model", schema: str = "marts", status: str = "started") -> dict:
    return {"unique_id": f"{kind}.assistant_analytics.{name}", "node_name": name, "resource_type": kind,
            "node_status": status, "node_relation": {"schema": schema, "alias": name}}


def start(name: str, index: int, total: int, kind: str = "model") -> dict:
    return {"info": {"name": "LogStartLine"},
            "data": {"index": index, "total": total, "node_info": node_info(name, kind)}}


def finish(name: str, index: int, total: int, seconds: float, kind: str = "model", status: str = "success",
           event: str | None = None) -> dict:
    event = event or {"model": "LogModelResult", "test": "LogTestResult", "seed": "LogSeedResult"}[kind]
    return {"info": {"name": event},
            "data": {"index": index, "total": total, "execution_time": seconds,
                     "node_info": node_info(name, kind, status=status)}}


def counter(**kw) -> DbtBuildCounter:
    return DbtBuildCounter(started_at=100.0, plain=kw.pop("plain", True), slow_seconds=5.0, plain_every=10.0, **kw)


def test_counts_finished_nodes_of_the_selection_and_names_the_slow_and_failed_ones():
    c = counter()
    assert c.on_event(concurrency(4), 101.0) == ["dbt build: 4 nodes, 2 threads"]
    assert c.on_event(start("stg_a", 1, 4), 101.0) == []
    assert c.on_event(start("fct_chats", 2, 4), 101.0) == []
    # a quick node is counted, not named
    assert c.on_event(finish("stg_a", 1, 4, 0.2), 101.2) == []
    assert c.done == 1 and c.position() == "node 1/4"
    # a slow one is named with dbt's own execution time
    assert c.on_event(finish("fct_chats", 2, 4, 7.25), 108.3) == \
        ["dbt build: node 2/4 done: model marts.fct_chats took 7.2s"]
    assert c.slow == [("model marts.fct_chats", 7.25)]
    # a failed test is named whatever its time; a skipped node still counts as done
    assert c.on_event(finish("assert_rates", 3, 4, 0.1, kind="test", status="fail"), 108.5) == \
        ["dbt build: node 3/4 done: test assert_rates FAIL"]
    lines = c.on_event({"info": {"name": "SkippingDetails"},
                        "data": {"index": 4, "total": 4, "node_info": node_info("dim_x", status="skipped")}}, 108.6)
    assert c.done == 4 and c.failed == ["test assert_rates"]
    assert lines == ["dbt build: node 4/4 done (100%), 8.6s"]  # the build's last line (plain mode)


def test_a_node_is_counted_once_and_the_total_also_comes_from_the_result_lines():
    c = counter()
    c.on_event(finish("seed_a", 1, 3, 0.1, kind="seed"), 100.5)  # no ConcurrencyLine seen
    c.on_event(finish("seed_a", 1, 3, 0.1, kind="seed"), 100.6)
    assert c.position() == "node 1/3"
    assert c.on_event({"info": {"name": "Formatting"}, "data": {"msg": ""}}, 100.7) == []


def test_a_long_running_node_is_named_once_while_it_runs():
    c = counter(plain=False)
    c.on_event(concurrency(3), 100.0)
    c.on_event(start("int_chats", 1, 3), 100.0)
    c.on_event(start("stg_b", 2, 3), 102.0)
    assert c.on_tick(104.9) == []
    assert c.on_tick(105.0) == ["dbt build: node 0/3 done; model marts.int_chats still running after 5.0s"]
    assert c.on_tick(106.0) == []  # once only
    assert c.on_tick(107.5) == ["dbt build: node 0/3 done; model marts.stg_b still running after 5.5s"]
    # the bar shows the share done, the elapsed time and the node running longest
    c.on_event(finish("stg_b", 2, 3, 5.6), 107.6)
    assert c.status(110.0) == "dbt [########................] node 1/3 10.0s  model marts.int_chats 10.0s"
    # nothing running: no node named
    del c.running["model.assistant_analytics.int_chats"]
    assert c.status(110.0).endswith("node 1/3 10.0s")


def test_plain_mode_prints_where_the_build_is_now_and_then():
    c = counter(plain=True)
    c.on_event(concurrency(50), 101.0)  # a line at 101
    for i in range(1, 11):
        c.on_event(start(f"m{i}", i, 50), 100.0 + i)
        c.on_event(finish(f"m{i}", i, 50, 0.5), 100.5 + i)
    assert c.on_tick(110.9) == []  # under 10 s since the last line
    assert c.on_tick(111.0) == ["dbt build: node 10/50 done (20%), 11.0s"]
    assert c.on_tick(115.0) == []
    # the bar mode prints no such line
    bar = counter(plain=False)
    bar.on_event(concurrency(50), 101.0)
    assert bar.on_tick(200.0) == []


def test_status_before_dbt_has_counted_the_nodes():
    assert counter().status(103.0) == "dbt build: starting (reading the project) 3.0s"


def test_format_seconds():
    assert progress.format_seconds(4.04) == "4.0s"
    assert progress.format_seconds(59.94) == "59.9s"
    assert progress.format_seconds(125.4) == "2m05s"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def printed():
    lines: list[str] = []
    progress.set_listener(lines.append)
    yield lines
    progress.set_listener(None)


def feed_build(build, clock: FakeClock) -> None:
    build.on_event(concurrency(2))
    build.on_event(start("fct_chats", 1, 2))
    clock.now = 6.0
    build.on_event(finish("fct_chats", 1, 2, 6.0))
    clock.now = 6.5
    build.on_event(start("stg", 2, 2))
    build.on_event(finish("stg", 2, 2, 0.1))


def test_plain_lines_carry_no_terminal_control_characters(printed):
    clock = FakeClock()
    with progress.dbt_build(terminal=None, clock=clock, tick_seconds=60) as build:
        feed_build(build, clock)
    assert printed == ["dbt build: 2 nodes, 2 threads", "dbt build: node 1/2 done: model marts.fct_chats took 6.0s",
                       "dbt build: node 2/2 done (100%), 6.5s"]
    assert not any(re.search(r"[\r\x1b]", line) for line in printed)


def test_on_a_terminal_the_bar_is_drawn_in_place_and_cleared_for_each_line(printed):
    clock, term = FakeClock(), io.StringIO()
    with progress.dbt_build(terminal=term, clock=clock, tick_seconds=60) as build:
        feed_build(build, clock)
        drawn = term.getvalue()
    assert printed == ["dbt build: 2 nodes, 2 threads", "dbt build: node 1/2 done: model marts.fct_chats took 6.0s"]
    assert "\r  dbt [############............] node 1/2 6.5s  model marts.stg 0.0s\x1b[K" in drawn
    assert "\n" not in term.getvalue()
    assert term.getvalue().endswith("\r\x1b[K")  # the bar is gone once the build ends


def test_the_ticker_names_a_node_that_runs_long_without_events(printed):
    clock = FakeClock()
    with progress.dbt_build(terminal=None, clock=clock, tick_seconds=0.01) as build:
        build.on_event(concurrency(1))
        build.on_event(start("fct_chats", 1, 1))
        clock.now = 5.0
        for _ in range(500):  # the ticker thread runs every 0.01 s
            if len(printed) > 1:
                break
            time.sleep(0.01)
    assert printed[1] == "dbt build: node 0/1 done; model marts.fct_chats still running after 5.0s"


def test_nothing_is_shown_without_a_listener(capfd):
    progress.set_listener(None)
    clock = FakeClock()
    with progress.dbt_build(terminal=None, clock=clock, tick_seconds=0.01) as build:
        build.on_event(concurrency(1))  # accepted, ignored
        build.on_event(start("fct_chats", 1, 1))
        clock.now = 5.0
        time.sleep(0.05)  # the ticker's turns, had it a listener, would name the long node
    progress.report("loading ...")
    assert capfd.readouterr() == ("", "")


def test_the_bar_goes_to_stderr_only_when_it_is_a_terminal(monkeypatch):
    master, slave = os.openpty()
    tty = open(slave, "w")
    try:
        monkeypatch.setattr("sys.stderr", tty)
        monkeypatch.setattr("sys.stdout", io.StringIO())
        assert progress._terminal() is tty
        monkeypatch.setattr("sys.stdout", tty)  # ANALYTICS_VERBOSE: dbt's log goes to stderr too
        assert progress._terminal() is None
        monkeypatch.setattr("sys.stderr", io.StringIO())
        assert progress._terminal() is None
    finally:
        tty.close()
        os.close(master)


# The failed nodes, from dbt's run summary (RunResultError, as dbt 1.11 writes it) ------------------

def run_result_error(name: str, msg: str, kind: str = "test") -> dict:
    return {"info": {"name": "RunResultError", "level": "error"},
            "data": {"msg": msg, "node_info": node_info(name, kind, status="fail")}}


def test_the_failed_nodes_are_named_with_what_went_wrong():
    failures = NodeFailures()
    failures.on_event(finish("assert_rates", 1, 3, 0.1, kind="test", status="fail"))  # no message here
    assert failures.summary() is None
    failures.on_event(run_result_error("assert_rates", "Got 3 results, configured to fail if != 0"))
    failures.on_event(run_result_error(
        "fct_chats", "Runtime Error in model fct_chats (models/marts/fct_chats.sql)\n  Binder Error: no column x",
        kind="model"))
    # a message without a node (a skipped node's note) names nothing
    failures.on_event({"info": {"name": "RunResultError"}, "data": {"msg": "skipped"}})
    assert failures.summary() == ("assert_rates: Got 3 results, configured to fail if != 0; "
                                  "fct_chats: Binder Error: no column x")


def test_more_than_three_failed_nodes_are_counted():
    failures = NodeFailures()
    for i in range(5):
        failures.on_event(run_result_error(f"assert_{i}", f"Got {i + 1} results"))
        failures.on_event(run_result_error(f"assert_{i}", "the same node again"))
    assert failures.summary() == ("assert_0: Got 1 results; assert_1: Got 2 results; "
                                  "assert_2: Got 3 results (and 2 more)")


def test_a_model_whose_columns_changed_is_named_with_what_to_do():
    """A warehouse built by another version of the models fails an incremental refresh on the
    schema change (on_schema_change='fail'); the line says that a full rebuild mends it."""
    failures = NodeFailures()
    failures.on_event(run_result_error(
        "int_sessions_aggregated",
        "Compilation Error in model int_sessions_aggregated (models/intermediate/int_sessions_aggregated.sql)\n"
        "  The source and target schemas on this incremental model are out of sync!\n"
        "  They can be reconciled in several ways:", kind="model"))
    assert failures.summary() == (
        "int_sessions_aggregated: The source and target schemas on this incremental model are out of sync!; "
        "run `assistant-analytics refresh --full` once (a model's columns changed)")
