"""The export files on disk: one `dt=YYYY-MM-DD` folder per export day, replaced as a whole,
gzip parts (fixed mtime, so the bytes repeat) alternating with plain ones, and one empty file."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import shutil
from pathlib import Path
from random import Random

# Written into an exports folder the demo writes to: the demo replaces its own days there, and
# refuses a folder of real exports (events.md: the warehouse never writes exports).
DEMO_MARK = ".assistant-analytics-demo"


def written_by_the_demo(out_dir: Path) -> bool:
    return (out_dir / DEMO_MARK).is_file()


def _read_mark(out_dir: Path) -> dict:
    """The mark's record: {"days": [...], "warehouses": [...]}; {} for a mark written before it held
    one (a line of text)."""
    try:
        record = json.loads((out_dir / DEMO_MARK).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def days_the_demo_wrote(out_dir: Path) -> set[datetime.date] | None:
    """The export days the mark lists (every day any demo wrote there); None for a mark that lists
    none (written before it did)."""
    try:
        return {datetime.date.fromisoformat(day) for day in _read_mark(out_dir)["days"]}
    except (KeyError, TypeError, ValueError):
        return None


def loaded_by_the_demo(out_dir: Path, warehouse: Path) -> bool:
    """Whether a demo loaded this folder's days into `warehouse` (or began to: the mark names the
    warehouse before the refresh starts)."""
    warehouses = _read_mark(out_dir).get("warehouses")
    return isinstance(warehouses, list) and str(warehouse.resolve()) in warehouses


def mark(out_dir: Path, days: list[datetime.date] = (), warehouse: Path | None = None) -> None:
    """Adds days written, or a warehouse loaded, to the folder's mark. A mark of an earlier demo
    that lists no days (a line of text) takes the folder's days as the demo's, as check_demo_target
    did before this demo wrote."""
    from ..load.exports import list_export_days

    record = _read_mark(out_dir)
    earlier = record.get("days")
    if earlier is None and written_by_the_demo(out_dir):
        earlier = [day.isoformat() for day in list_export_days(out_dir)]
    record = {"about": "sample exports written by `assistant-analytics demo`",
              "days": sorted({*map(str, days), *(earlier or [])}),
              "warehouses": sorted({*([str(warehouse.resolve())] if warehouse else []),
                                    *(record.get("warehouses") or [])})}
    (out_dir / DEMO_MARK).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def write_days(rng: Random, out_dir: Path, first_day: datetime.date, parts_by_day: list[list[list[str]]]) -> int:
    """Writes every day's parts; returns the number of lines written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mark(out_dir, [first_day + datetime.timedelta(days=d) for d in range(len(parts_by_day))])
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
