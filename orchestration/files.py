"""Small files that readers see whole: the old version or the new one, never a part."""

from __future__ import annotations

import os
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
