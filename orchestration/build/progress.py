"""Progress of a long refresh (days loaded, dbt nodes built), for the command line to display.

Dagster runs the assets in this process when the CLI drives the job; the CLI installs a printer
(the listener). Runs without one (the Dagster webserver) print nothing here.

The dbt build is followed through dbt's own structured log events (the JSON lines dagster-dbt
reads): "Concurrency: ..." gives the number of nodes the build selected, "n of N START" a node
that began, and a result line (OK, PASS, FAIL, SKIP ...) a node that ended. On a terminal a
progress bar is redrawn in place; anywhere else (a pipe, a CI log) plain lines are printed, at
most one every PLAIN_EVERY_SECONDS, plus one per slow or failed node.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

_listener: Callable[[str], None] | None = None

# A node that runs this long is named: once while it runs, and with its time when it ends.
SLOW_NODE_SECONDS = 5.0
# Plain output (no terminal): a "node n/N" line at most this often, and when the build ends.
PLAIN_EVERY_SECONDS = 10.0
TICK_SECONDS = 0.5
REDRAW_SECONDS = 0.1
BAR_WIDTH = 24

_STARTED_EVENTS = {"LogStartLine"}
# One of these per node that ended, whatever its type (model, test, seed, snapshot) or outcome.
_FINISHED_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult", "LogNodeResult",
                    "LogNodeNoOpResult", "LogFreshnessResult", "SkippingDetails"}
_FAILED_STATUSES = {"error", "fail", "runtime error"}


# Run logs that also take the messages for a while (also_to): a Dagster run's log, so that a run
# started from Dagster says what a CLI refresh prints (why it rebuilds every model, say).
_run_logs: list[Callable[[str], None]] = []


def set_listener(listener: Callable[[str], None] | None) -> None:
    global _listener
    _listener = listener


def report(message: str, *, run_log: bool = True) -> None:
    """`message` to the listener, and to the run logs of also_to unless `run_log` is False (a line
    the caller logs itself, at another level)."""
    if _listener is not None:
        _listener(message)
    for log in list(_run_logs) if run_log else []:
        log(message)


@contextmanager
def also_to(log: Callable[[str], None]) -> Iterator[None]:
    """The messages reported inside the block go to `log` too (besides the listener)."""
    _run_logs.append(log)
    try:
        yield
    finally:
        _run_logs.remove(log)


def node_label(node_info: dict) -> str:
    """`model marts.fct_chats`, `test assert_x`, `seed raw.assistants`: what a user can find in the project."""
    kind = node_info.get("resource_type") or "node"
    name = node_info.get("node_name") or node_info.get("unique_id", "?").split(".")[-1]
    schema = (node_info.get("node_relation") or {}).get("schema")
    return f"{kind} {schema}.{name}" if kind in ("model", "seed", "snapshot") and schema else f"{kind} {name}"


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


@dataclass
class DbtBuildCounter:
    """Where a dbt build is, from its events: pure bookkeeping, every method takes the time `now`.

    Methods return the lines to print (permanent ones); `status` is the text of the progress bar.
    """

    started_at: float
    plain: bool
    slow_seconds: float = SLOW_NODE_SECONDS
    plain_every: float = PLAIN_EVERY_SECONDS
    total: int | None = None
    threads: int | None = None
    finished: set[str] = field(default_factory=set)
    running: dict[str, tuple[str, float]] = field(default_factory=dict)  # unique_id -> (label, since)
    announced_slow: set[str] = field(default_factory=set)
    slow: list[tuple[str, float]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    last_line_at: float | None = None

    @property
    def done(self) -> int:
        return len(self.finished)

    def position(self) -> str:
        return f"node {self.done}/{self.total if self.total is not None else '?'}"

    def on_event(self, raw_event: dict, now: float) -> list[str]:
        info, data = raw_event.get("info") or {}, raw_event.get("data") or {}
        name = info.get("name")
        lines: list[str] = []
        if name == "ConcurrencyLine" and data.get("node_count") is not None:
            self.total, self.threads = int(data["node_count"]), data.get("num_threads")
            lines.append(self._line(now, f"dbt build: {self.total} nodes, {self.threads or '?'} "
                                         f"thread{'s' * (self.threads != 1)}"))
        node = data.get("node_info") or {}
        unique_id = node.get("unique_id")
        if data.get("total") is not None and self.total is None:
            self.total = int(data["total"])
        if not unique_id:
            return lines
        if name in _STARTED_EVENTS:
            self.running[unique_id] = (node_label(node), now)
        elif name in _FINISHED_EVENTS and unique_id not in self.finished:
            label, since = self.running.pop(unique_id, (node_label(node), None))
            self.finished.add(unique_id)
            seconds = data.get("execution_time")
            if seconds is None and since is not None:
                seconds = now - since
            status = str(node.get("node_status") or data.get("status") or "").lower()
            if status in _FAILED_STATUSES:
                self.failed.append(label)
                lines.append(self._line(now, f"dbt build: {self.position()} done: {label} {status.upper()}"))
            elif seconds is not None and seconds >= self.slow_seconds:
                self.slow.append((label, seconds))
                lines.append(self._line(now, f"dbt build: {self.position()} done: {label} took "
                                             f"{format_seconds(seconds)}"))
            if self.total is not None and self.done >= self.total and self.plain:
                lines.append(self._progress_line(now))
        return lines

    def on_tick(self, now: float) -> list[str]:
        """Names each node once it has run slow_seconds; in plain mode, a progress line now and then."""
        lines = []
        for unique_id, (label, since) in sorted(self.running.items(), key=lambda kv: kv[1][1]):
            if unique_id not in self.announced_slow and now - since >= self.slow_seconds:
                self.announced_slow.add(unique_id)
                lines.append(self._line(now, f"dbt build: {self.position()} done; {label} still running "
                                             f"after {format_seconds(now - since)}"))
        if self.plain and self.total is not None and self.done < self.total:
            if now - (self.last_line_at if self.last_line_at is not None else self.started_at) >= self.plain_every:
                lines.append(self._progress_line(now))
        return lines

    def status(self, now: float) -> str:
        """The progress bar's text: nodes done of all, elapsed, and the longest-running node."""
        elapsed = format_seconds(now - self.started_at)
        if self.total is None:
            return f"dbt build: starting (reading the project) {elapsed}"
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        text = f"dbt [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.position()} {elapsed}"
        if self.running:
            label, since = min(self.running.values(), key=lambda v: v[1])
            more = f" (+{len(self.running) - 1})" if len(self.running) > 1 else ""
            text += f"  {label} {format_seconds(now - since)}{more}"
        return text

    def _progress_line(self, now: float) -> str:
        percent = f" ({100 * self.done // self.total}%)" if self.total else ""
        return self._line(now, f"dbt build: {self.position()} done{percent}, "
                               f"{format_seconds(now - self.started_at)}")

    def _line(self, now: float, text: str) -> str:
        self.last_line_at = now
        return text


class _Display:
    """Sends a counter's lines to the listener and, on a terminal, keeps its bar drawn below them."""

    def __init__(self, counter: DbtBuildCounter, emit: Callable[[str], None], terminal: TextIO | None,
                 clock: Callable[[], float]) -> None:
        self.counter, self.emit, self.terminal, self.clock = counter, emit, terminal, clock
        self.lock = threading.Lock()
        self.bar_drawn = False
        self.drawn_at: float | None = None

    def on_event(self, raw_event: dict) -> None:
        with self.lock:
            self._show(self.counter.on_event(raw_event, self.clock()))

    def tick(self) -> None:
        with self.lock:
            self._show(self.counter.on_tick(self.clock()))

    def close(self) -> None:
        with self.lock:
            self._clear_bar()

    def _show(self, lines: list[str]) -> None:
        if lines:
            self._clear_bar()
            for line in lines:
                self.emit(line)
        now = self.clock()
        # dbt sends a few events per node: redraw a few times a second, not for each
        recent = self.bar_drawn and self.drawn_at is not None and now - self.drawn_at < REDRAW_SECONDS
        if self.terminal is not None and not recent:
            width = shutil.get_terminal_size((100, 20)).columns
            # the listener indents its lines by two spaces; the bar lines up with them
            self.terminal.write("\r  " + self.counter.status(now)[: max(width - 3, 10)] + "\x1b[K")
            self.terminal.flush()
            self.bar_drawn, self.drawn_at = True, now

    def _clear_bar(self) -> None:
        if self.bar_drawn and self.terminal is not None:
            self.terminal.write("\r\x1b[K")
            self.terminal.flush()
            self.bar_drawn = False


class _Silent:
    def on_event(self, raw_event: dict) -> None:
        pass


def _terminal() -> TextIO | None:
    """stderr when it is a terminal that nothing else writes to (ANALYTICS_VERBOSE sends dbt's log there)."""
    stream = sys.stderr
    if sys.stdout is stream or not hasattr(stream, "isatty") or not stream.isatty():
        return None
    return stream


@contextmanager
def dbt_build(*, terminal: TextIO | None | bool = True, clock: Callable[[], float] = time.monotonic,
              tick_seconds: float = TICK_SECONDS) -> Iterator[_Display | _Silent]:
    """Follows one dbt build: feed it each raw dbt event (`.on_event(raw_event)`).

    terminal: the stream the bar is drawn on; True picks stderr if it is a terminal; None: plain lines.
    A ticker thread names a node that runs long while no event arrives, and redraws the bar.
    """
    listener = _listener
    if listener is None:
        yield _Silent()
        return
    stream = _terminal() if terminal is True else (terminal or None)
    display = _Display(DbtBuildCounter(started_at=clock(), plain=stream is None), listener, stream, clock)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(tick_seconds):
            display.tick()

    ticker = threading.Thread(target=tick, name="dbt-progress", daemon=True)
    ticker.start()
    try:
        yield display
    finally:
        stop.set()
        ticker.join()
        display.close()
