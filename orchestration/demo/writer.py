"""The export files on disk: one `dt=YYYY-MM-DD` folder per export day, replaced as a whole,
gzip parts (fixed mtime, so the bytes repeat) alternating with plain ones, and one empty file."""

from __future__ import annotations

import datetime
import gzip
import io
import shutil
from pathlib import Path
from random import Random

# Written into an exports folder the demo writes to: the demo replaces its own days there, and
# refuses a folder of real exports (events.md: the warehouse never writes exports).
DEMO_MARK = ".assistant-analytics-demo"


def written_by_the_demo(out_dir: Path) -> bool:
    return (out_dir / DEMO_MARK).is_file()


def write_days(rng: Random, out_dir: Path, first_day: datetime.date, parts_by_day: list[list[list[str]]]) -> int:
    """Writes every day's parts; returns the number of lines written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DEMO_MARK).write_text("sample exports written by `assistant-analytics demo`\n", encoding="utf-8")
    empty_day = rng.randrange(len(parts_by_day))
    total = 0
    for d, parts in enumerate(parts_by_day):
        day = first_day + datetime.timedelta(days=d)
        folder = out_dir / f"dt={day.isoformat()}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for p, lines in enumerate(parts):
            _write(folder / (f"part-{p:04d}.jsonl" + ("" if p % 2 else ".gz")), lines)
            total += len(lines)
        if d == empty_day:
            (folder / "part-0009.jsonl").write_bytes(b"")
    return total


def _write(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.write_bytes(data)
