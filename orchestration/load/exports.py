"""The export files: which `dt=YYYY-MM-DD` day folders and files the loader reads, and their fingerprint.

The sensor, the schedule, `status` and the CLI read the exports root through this module too, so that
each of them sees the same days and files as the loader (links and writers' temporary files ignored).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from ..errors import LoadError, UserError, listed, spaces_shown
from ..settings import first_export_day, iso_day


def is_partition_day(day: dt.date) -> bool:
    """Whether `day` is one of Dagster's daily partitions (defs/partitions.py): from
    ANALYTICS_FIRST_EXPORT_DAY to tomorrow, UTC (today's export may already be there). A folder
    dated outside is misdated: a refresh refuses it, the sensor passes it by, status names it."""
    return first_export_day() <= day <= last_partition_day()


def last_partition_day() -> dt.date:
    """The last daily partition: tomorrow, UTC (today's export may already be there)."""
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


def day_folder(exports_dir: Path, day: dt.date) -> Path:
    return exports_dir / f"dt={day.isoformat()}"


def named_as_day_folder(name: str) -> bool:
    """Whether an entry of the exports root is named like a day folder (`dt=...`, `DT=...`, however
    dated): an export day, or one named wrong, whose files are the platform's all the same."""
    return name.lower().startswith("dt=")


def export_day_folder_holding(path: Path, exports_dir: Path) -> Path | None:
    """The day folder of `exports_dir` that `path` is or is inside, if any: the platform's files,
    which this warehouse reads and never writes (events.md). Both paths absolute, their links
    followed."""
    parts = path.relative_to(exports_dir).parts if path.is_relative_to(exports_dir) else ()
    return exports_dir / parts[0] if parts and named_as_day_folder(parts[0]) else None


def check_warehouse_outside_day_folders(warehouse: Path, exports_dir: Path) -> None:
    """A refresh keeps its build file, lock and record beside the warehouse: not among the
    platform's files (events.md: the warehouse never writes exports)."""
    in_day = export_day_folder_holding(warehouse, exports_dir)
    if in_day:
        raise UserError(f"the warehouse {warehouse} is in the export day folder {in_day}, whose files are the "
                        "platform's, only read: give a path outside the export day folders")


def unreadable(what: str, path: Path, exc: OSError) -> LoadError:
    return LoadError(f"cannot read {what} {path}: {exc.strerror or exc}")


def list_export_days(exports_dir: Path) -> list[dt.date]:
    """The `dt=YYYY-MM-DD` folders of the exports root; links are not followed (README)."""
    return scan_day_folders(exports_dir)[0]


def shown_name(path: Path) -> str:
    """A file or folder name as the warehouse keeps and prints it: the name itself, or, for bytes of
    it that are not UTF-8 (which no text column or terminal holds), `\\xNN` in their place, as a line's
    bytes that are not UTF-8 are kept (README)."""
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def shown_names(paths: list[Path]) -> dict[Path, str]:
    """shown_name of each file of a day, made unique: a name that is not UTF-8 whose shown name is
    another file's (`a\\xff.jsonl` is also a name one can write) gets a suffix from its bytes, so
    that no two files' lines are ever taken for one file's."""
    names = {path: shown_name(path) for path in paths}
    taken = Counter(names.values())
    for path, name in names.items():
        if taken[name] > 1 and not is_utf8_path(Path(path.name)):
            names[path] = f"{name}~{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:8]}"
    return names


def is_utf8_path(path: Path) -> bool:
    """Whether the path's text is UTF-8 throughout: only such a path can be given to DuckDB or Spark."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# What scan_day_folders' `misnamed` entries are, in every line that names them (status, refresh
# --all, the sensor's log)
MISNAMED_DAY_FOLDERS = "named like an export day but not a dt=YYYY-MM-DD folder with a real date"


class DayFolders(NamedTuple):
    """The exports root's entries named like a day folder, in one pass (scan_day_folders)."""
    days: list[dt.date]  # the export days: `dt=YYYY-MM-DD` folders, sorted
    misnamed: list[str]  # entries named like one, not a folder with a date that exists (never read)
    linked: list[str]  # `dt=` names that are symbolic links (never read: docs/decisions.md)


def scan_day_folders(exports_dir: Path) -> DayFolders:
    """The exports root's day folders, in one pass: the export days, sorted; the names of the
    entries named like one that are not a folder named `dt=YYYY-MM-DD` with a date that exists
    (`dt=2026-11-31`, `dt=2026-11-5`, `DT=2026-11-28`, a file `dt=2026-11-20`); and the `dt=` names
    that are symbolic links. The last two are not export days, so never read, but named by `status`,
    `refresh --all` and the sensor rather than passed over unseen. Links are not followed
    (docs/decisions.md)."""
    try:
        if not exports_dir.is_dir():
            return DayFolders([], [], [])
        days, misnamed, linked = [], [], []
        for child in exports_dir.iterdir():
            if not named_as_day_folder(child.name):
                continue
            if child.is_symlink():
                linked.append(shown_name(child))
                continue
            day = iso_day(child.name.removeprefix("dt=")) if child.name.startswith("dt=") else None
            # `DT=2026-11-28` too: the platform writes `dt=`, and nothing reads it; and a file named as
            # a day's folder (a delivery gone wrong: the day would be passed over unseen)
            if day is None or not child.is_dir():
                misnamed.append(shown_name(child))
            else:
                days.append(day)
    except OSError as exc:
        raise unreadable("the exports folder", exports_dir, exc) from None
    return DayFolders(sorted(days), sorted(misnamed), sorted(linked))


def days_from_to(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from `first` to `last`, both included (a backfill's range)."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def days_with_folders(exports_dir: Path, days: list[dt.date]) -> tuple[list[dt.date], list[dt.date]]:
    """The days of a range (a backfill) that have a folder, and the others: a day the platform did
    not export is expected (events.md) and must not stop the rest; the caller names it. A range
    without any folder is an error, as a day asked for alone without its folder is."""
    found = [d for d in days if is_export_day(exports_dir, d)]
    if not found and len(days) == 1:  # a range of one day (`--from X --to X`): as `--day X` says it
        raise LoadError(missing_day_message(exports_dir, days[0]))
    missing_root = None if found else no_exports_folder(exports_dir)
    if missing_root:
        raise LoadError(f"no export day between {days[0]} and {days[-1]}: {missing_root}")
    if not found:
        linked = _linked_day_folders(exports_dir, days)
        if linked:
            raise LoadError(f"no export day between {days[0]} and {days[-1]} to read: the range's only day folders are "
                            f"symbolic links, and links are not read (copy the folders in): {listed(linked)}")
        raise LoadError(f"no export day between {days[0]} and {days[-1]}: no dt=YYYY-MM-DD folder in {exports_dir}")
    return found, [d for d in days if d not in found]


def _linked_day_folders(exports_dir: Path, days: list[dt.date]) -> list[str]:
    """The `dt=` names of those days whose folder is a symbolic link (never read)."""
    return [folder.name for folder in (day_folder(exports_dir, d) for d in days) if folder.is_symlink()]


def linked_day_folders_note(names: list[str], where: str = "") -> str:
    """The note naming day folders that are symbolic links (`where`: " of the range"), which are
    never read: `refresh --all`'s and a range's."""
    return (f"not reading {len(names)} day folder(s){where} that are symbolic links (links are not read; copy the "
            f"folder in): {listed([spaces_shown(n) for n in names])}")


def range_gap_notes(exports_dir: Path, gaps: list[dt.date]) -> list[str]:
    """The lines that name a range's days not loaded (days_with_folders' others), one for each
    kind: no folder (a day the platform did not export), or a folder that is a symbolic link (never
    read, as `--all` and `status` say of it)."""
    linked = _linked_day_folders(exports_dir, gaps)
    absent = [d.isoformat() for d in gaps if day_folder(exports_dir, d).name not in linked]
    notes = [f"no folder for {len(absent)} export day(s) of the range, not loaded: {listed(absent)}"] if absent else []
    return notes + ([linked_day_folders_note(linked, " of the range")] if linked else [])


def is_export_day(exports_dir: Path, day: dt.date) -> bool:
    """True when the day's folder is there and is a real folder (a link to one is not read).

    Raises LoadError when the exports root or the day's folder cannot be read, before any work starts.
    """
    folder = day_folder(exports_dir, day)
    try:
        found = not folder.is_symlink() and folder.is_dir()
    except OSError as exc:
        raise unreadable("the exports folder", exports_dir, exc) from None
    if found:
        export_files(folder)  # can its files be listed?
    return found


def check_export_day(exports_dir: Path, day: dt.date) -> Path:
    """The day's folder; LoadError, before anything of the day is loaded, when there is none."""
    folder = day_folder(exports_dir, day)
    if not is_export_day(exports_dir, day):
        raise LoadError(missing_day_message(exports_dir, day))
    return folder


def no_exports_folder(exports_dir: Path) -> str | None:
    """Why the exports root gives no day at all when it is not a folder (a setting or an option
    mistyped, most likely); None when it is one."""
    if exports_dir.is_dir():
        return None
    what = f"{exports_dir} is not a folder" if exports_dir.exists() else f"no exports folder {exports_dir}"
    return f"{what} (ANALYTICS_EXPORTS, or the exports folder given)"


def missing_day_message(exports_dir: Path, day: dt.date) -> str:
    """Why a day asked for has no folder to load: the exports root is not there (a setting), its
    folder is a link (not read), or there is none."""
    folder = day_folder(exports_dir, day)
    missing_root = no_exports_folder(exports_dir)
    if missing_root:
        return f"export day {day.isoformat()} not found: {missing_root}"
    if folder.is_symlink():
        return (f"export day {day.isoformat()} not read: {folder} is a symbolic link, and links are not "
                "read (copy the folder in: docs/decisions.md)")
    if folder.exists():
        return f"export day {day.isoformat()} not read: {folder} is a file, not a folder"
    return f"export day {day.isoformat()} not found: no folder {folder}"


def is_export_file_name(name: str) -> bool:
    # Names starting with "." or "_" are a writer's temporary files and markers (`_SUCCESS`), as
    # data-lake readers have it; events.md says so too.
    return not name.startswith((".", "_")) and name.endswith((".jsonl", ".jsonl.gz"))


def export_files(folder: Path) -> list[Path]:
    """The day's export files: regular files with an export name. Links are not followed (README)."""
    try:
        return sorted(
            p for p in folder.iterdir() if is_export_file_name(p.name) and not p.is_symlink() and p.is_file()
        )
    except OSError as exc:
        raise unreadable("the export day folder", folder, exc) from None


def unread_export_names(folder: Path) -> tuple[list[str], list[str]]:
    """Names in the day's folder that an export file would have but that export_files does not
    read: symbolic links, and entries that are not files (a folder, as a writer that writes a file
    as a folder of its parts makes one). The run names both, so that none is passed by unseen."""
    try:
        entries = [p for p in folder.iterdir() if is_export_file_name(p.name)]
        links = sorted(p.name for p in entries if p.is_symlink())
        return links, sorted(p.name for p in entries if not p.is_symlink() and not p.is_file())
    except OSError:
        return [], []  # a folder that cannot be read stops its load with a line of its own


# Raised when a change of the loader judges some lines otherwise (a rule of events.md read anew, a
# file read another way): every export day loaded at an earlier revision is then pending again, and
# its next load judges its lines as this loader does. The revision heads a day's fingerprint:
# `r4:<sha256>`; revision 1 (before it was recorded) is the bare digest. 3: the lines of a damaged
# gzip member rejected and the members after it read, file names with `*`, `?` or `[` read as
# names, and on Spark a line with text after its JSON value invalid. 4: a line whose strings escape
# a lone half of a surrogate pair loads (it was invalid_json). tests/test_load.py holds the digest
# of the loader's code each revision was reviewed at, so that a change of it asks for this.
LOADER_REVISION = 4


def fingerprint(folder: Path) -> str:
    """Changes when a day is re-delivered (names, sizes and modification times of its files) and
    with the loader's revision (LOADER_REVISION)."""
    return files_fingerprint(export_files(folder))


def changed_since(folder: Path, delivered: str) -> bool:
    """Whether the day folder's files are no longer those of fingerprint `delivered` (a folder, or a
    file, gone or unreadable meanwhile is a change)."""
    try:
        return fingerprint(folder) != delivered
    except LoadError:
        return True


def files_fingerprint(files: list[Path]) -> str:
    """`fingerprint` of a day folder's export files (export_files), listed by the caller."""
    h = hashlib.sha256()
    for p in files:
        try:
            st = p.stat()
        except OSError as exc:
            raise unreadable("the export file", p, exc) from None
        # a name's own bytes, also where they are not UTF-8 (surrogate escapes in Python's str)
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return f"r{LOADER_REVISION}:{h.hexdigest()}"


def change_times(folder: Path, files: list[Path]) -> list[float]:
    """When a day folder (its listing) and each of its export files (export_files) last changed:
    their modification times, in seconds since the epoch. Raises OSError for a file gone since."""
    return [folder.stat().st_mtime] + [p.stat().st_mtime for p in files]


def check_files_readable(files: list[Path]) -> None:
    """Each of a day folder's export files (export_files) can be opened for reading now (a LoadError
    naming the first that cannot): the fingerprint reads only names, sizes and times. Opened without
    waiting, so a FIFO among them is not waited on."""
    for p in files:
        try:
            os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK))
        except OSError as exc:
            raise unreadable("the export file", p, exc) from None


def same_files(recorded: str, current: str) -> bool:
    """Whether two fingerprints are of the same files, whichever revision of the loader took each."""
    return recorded.rpartition(":")[2] == current.rpartition(":")[2]


def loaded_by_older_loader(recorded: str, current: str) -> bool:
    """True when a day's files are the ones it was loaded from, but an earlier revision of the
    loader judged them (fingerprint)."""
    return recorded != current and same_files(recorded, current)
