"""Small files that readers see whole: the old version or the new one, never a part."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file_or_skip(path: Path, data: bytes) -> None:
    """Writes `data` to a temporary named for this process beside `path`, then renames it over
    `path`. For files that only inform or only save time: on an OSError the temporary is removed
    and `path` is left as it was."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
