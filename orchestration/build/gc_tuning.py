"""Python's garbage collector, set for the two short processes of a refresh: the CLI's (Dagster and
the job, in-process) and dbt's (`assistant-analytics-dbt`).

Both build a large heap that lives as long as the process: the modules of Dagster, dagster-dbt and
dbt-core, the job's definitions, dbt's parsed project. Python's cyclic collector walks all of it on
each full collection, and once more when the process exits, although none of it is garbage; a
profile of a small refresh found a large share of both processes' CPU in those walks. So:
- no collection runs while the modules are imported (imports make next to no garbage);
- what exists once the heavy set-up is done moves to the permanent generation (`gc.freeze`), which
  no collection walks;
- at exit, everything is frozen: the process's memory goes back to the system whole, and nothing
  this project relies on waits for that last walk (connections are closed by their owners, and
  reference counting still releases every object that is not in a cycle).
Cycles made during the run are collected as before. Long-lived processes (`dagster dev`, the
dashboard) keep Python's defaults.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator


def freeze_what_lives_until_exit() -> None:
    """Call once the process's long-lived objects exist: no collection walks them from now on, nor
    walks the whole heap at exit."""
    gc.freeze()
    atexit.unregister(gc.freeze)  # registered once, however often this is called
    atexit.register(gc.freeze)


@contextlib.contextmanager
def long_lived_set_up() -> Iterator[None]:
    """The imports and set-up whose objects live until the process ends: no collection while they
    run, and they are frozen after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_what_lives_until_exit()
        if enabled:
            gc.enable()
