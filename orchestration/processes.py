"""Whether a process still runs on this machine: the loader's temporary folders, `status`'s
record of a CLI refresh and the sensors' check of Dagster's runs all ask it of a pid."""

from __future__ import annotations

import os
from pathlib import Path


def process_gone(pid: int, command_marks: tuple[str, ...] = ()) -> bool:
    """True when process `pid` no longer runs on this machine; with `command_marks`, also when the
    process that has the pid now has none of them in its command line (the pid used again by
    another program: the machine restarted). False when it runs, or when that cannot be told
    (another user's process; no /proc to read a command line from). Not by start times: the
    machine's start, from which /proc dates a process, moves when the clock is set."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    if not command_marks:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return not any(mark in command for mark in command_marks)
