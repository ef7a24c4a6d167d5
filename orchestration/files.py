"""Small files that readers see whole: the old version or the new one, never a part; and the
refresh lock's file, held shared by the readers that look at what a refresh writes."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def replace_file_or_skip(path: Path, data: bytes) -> bool:
    """Writes `data` to a temporary named for this process beside `path`, then renames it over
    `path`; True once done. For files that only inform or only save time: on an OSError the
    temporary is removed, `path` is left as it was, and the answer is False."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        return False
    return True


@contextlib.contextmanager
def lock_held_shared(lock: Path, *, create: bool) -> Iterator[bool | None]:
    """The refresh lock's file `lock` held shared for the block, taken without waiting: yields True
    when taken, False when a refresh holds it, None when the file cannot be opened (made first with
    `create`, empty, as a refresh makes it). Released on leaving."""
    try:
        fd = os.open(lock, os.O_RDONLY | (os.O_CREAT if create else 0), 0o644)
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases a lock taken here
