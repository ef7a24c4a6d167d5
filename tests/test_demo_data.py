"""The demo generator: deterministic, well-formed, and as messy as events.md says exports are."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from orchestration.demo.generator import generate_exports
from orchestration.demo.writer import DEMO_MARK

ENVELOPE = ("event_id", "event_type", "occurred_at", "assistant_id", "channel", "user_id", "conversation_id")
KNOWN_TYPES = {"user_message", "bot_message", "operator_message", "handover_request", "feedback", "csat",
               "click", "agent_triggered"}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _lines(root: Path) -> list[tuple[str, str]]:
    """(export day, raw line) for every non-blank line under root."""
    out = []
    for p in sorted(root.glob("dt=*/part-*")):
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        out += [(p.parent.name[3:], line) for line in data.decode("utf-8").splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("exports")
    return root, generate_exports(root, days=10, seed=3, end_date=dt.date(2026, 3, 5))


def test_same_seed_gives_identical_bytes(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    sa = generate_exports(a, days=5, seed=11)
    sb = generate_exports(b, days=5, seed=11)
    assert sa == sb
    fa, fb = _files(a), _files(b)
    assert fa and fa == fb
    generate_exports(tmp_path / "c", days=5, seed=12)
    assert _files(tmp_path / "c") != fa


def test_folders_cover_the_days_up_to_end_date(small):
    root, summary = small
    expected = [f"dt={dt.date(2026, 3, 5) - dt.timedelta(days=i)}" for i in range(9, -1, -1)]
    # and the mark that tells `demo` the folder is its own (cli: it refuses a folder of real exports)
    assert sorted(p.name for p in root.iterdir()) == [DEMO_MARK, *expected]
    assert summary["days"] == 10
    assert summary["first_day"] == "2026-02-24" and summary["last_day"] == "2026-03-05"
    assert summary["assistants"] == ["acme-support", "globex-sales", "initech-help"]
    for folder in root.glob("dt=*"):
        names = sorted(p.name for p in folder.iterdir())
        assert names[:2] == ["part-0000.jsonl.gz", "part-0001.jsonl"]
    empties = [p for p in root.rglob("part-0009.jsonl")]
    assert len(empties) == 1 and empties[0].stat().st_size == 0


def test_lines_are_mostly_valid_events(small):
    root, summary = small
    lines = _lines(root)
    assert len(lines) == summary["events"]
    assert 1_500 * 10 <= len(lines) <= 3_000 * 10
    good, types, assistants = 0, Counter(), Counter()
    for _, line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e[k] for k in ENVELOPE):
            continue
        good += 1
        types[e["event_type"]] += 1
        assistants[e["assistant_id"]] += 1
        if e["channel"] == "web":
            assert e.get("user_agent", "").startswith("Mozilla/5.0")
        else:
            assert "user_agent" not in e
    assert len(lines) - good <= 0.01 * len(lines)
    assert 0 < summary["bad_lines"] <= 0.005 * len(lines)
    assert KNOWN_TYPES <= set(types)
    assert set(types) - KNOWN_TYPES  # a few events of a type newer than the contract
    assert {"acme-support", "globex-sales", "initech-help"} <= set(assistants)
    unknown = sum(n for a, n in assistants.items() if a not in ("acme-support", "globex-sales", "initech-help"))
    assert 0 < unknown < 30


def test_late_events_and_duplicates_exist(small):
    root, summary = small
    assert summary["late_events"] > 0 and summary["duplicates"] > 0
    seen: dict[str, str] = {}
    exact = late = 0
    for day, line in _lines(root):
        try:
            e = json.loads(line)
            event_id, occurred = e["event_id"], e["occurred_at"]
            occurred_at = dt.datetime.fromisoformat(occurred)
        except (ValueError, TypeError, KeyError):
            continue
        if occurred_at.tzinfo is None:
            continue
        occurred_day = occurred_at.astimezone(dt.UTC).date()
        if event_id in seen:
            exact += seen[event_id] == line
            continue
        seen[event_id] = line
        if dt.date.fromisoformat(day) > occurred_day:
            late += 1
    assert exact > 0
    assert late >= summary["late_events"]  # bad lines may copy a late timestamp
    assert 0.005 <= late / len(seen) <= 0.05


def test_rewriting_replaces_the_days(tmp_path: Path):
    generate_exports(tmp_path, days=2, seed=1, end_date=dt.date(2026, 1, 2))
    stray = tmp_path / "dt=2026-01-02" / "part-0005.jsonl"
    stray.write_text("{}\n")
    keep = tmp_path / "dt=2025-12-01"
    keep.mkdir()
    generate_exports(tmp_path, days=2, seed=1, end_date=dt.date(2026, 1, 2))
    assert not stray.exists() and keep.exists()
