"""An edited seed (interfaces.md "Seeds": a deployment edits seeds/assistants.csv) is picked up by
the next incremental refresh, which then rebuilds every model, as `refresh --full` would.

The build file records a fingerprint of the seeds its models were built with
(raw.built_with_seeds); a refresh that finds other seeds rebuilds in full.

Hand-made data: user u_tz of acme-support (Europe/Rome, UTC+1 in November) chats at
2026-11-02 23:30Z, i.e. 00:30 on 2026-11-03 in Rome. A second export day brings an unrelated
user (u_other), so the refresh of that day recomputes only u_other unless the seeds changed.
With acme-support moved to UTC in the seed, u_tz's chat is on 2026-11-02.

The seed is edited in a copy of the checkout (its package, dbt project, seeds and profile), which
the CLI runs from (PYTHONPATH), not in the checkout itself: every other refresh of the suite reads
the checkout's seeds, so an edit there would have to wait until no other test runs.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO, Workspace, event, write_export

from orchestration.build.dbt_project import PARSED_FOR_FILE_NAME
from orchestration.build.dbt_templates import CACHE_FILE_NAME as TEMPLATES_FILE_NAME

pytestmark = pytest.mark.slow  # refreshes

ACME = "acme-support"
# What a refresh reads from the checkout; of dbt's target folder, what the checkout's refreshes
# start from (copied with their times, so that the manifest is as current as the checkout's).
CHECKOUT_PARTS = ("orchestration", "dbt_project", "seeds", "profiles.yml")
TARGET_FILES = ("manifest.json", PARSED_FOR_FILE_NAME, "partial_parse.msgpack", TEMPLATES_FILE_NAME)


def chat(prefix: str, at: str, user: str) -> list[dict]:
    return [
        event(f"{prefix}-1", "user_message", f"{at}:00Z", user=user, conversation=f"{prefix}-c",
              message_id=f"{prefix}-1"),
        event(f"{prefix}-2", "bot_message", f"{at}:10Z", user=user, conversation=f"{prefix}-c",
              message_id=f"{prefix}-2"),
    ]


def chat_date(ws, user: str):
    rows = ws.query(
        "select chat_local_date, timezone from marts.dim_chats where assistant_id = ? and user_id = ?",
        [ACME, user])
    assert len(rows) == 1, rows
    return str(rows[0][0]), rows[0][1]


@pytest.fixture
def checkout(tmp_path):
    """A copy of the checkout's parts a refresh reads; the CLI's environment that runs it."""
    copy = tmp_path / "checkout"
    for part in CHECKOUT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
        else:
            shutil.copy2(source, copy / part)
    (copy / "dbt_project" / "target").mkdir()
    for name in TARGET_FILES:
        if (REPO / "dbt_project" / "target" / name).exists():
            shutil.copy2(REPO / "dbt_project" / "target" / name, copy / "dbt_project" / "target" / name)
    return copy, {"PYTHONPATH": str(copy)}


def test_incremental_refresh_after_a_seed_edit_rebuilds_in_full(workspace, checkout):
    ws = workspace
    root, env = checkout
    seed = root / "seeds" / "assistants.csv"
    original_seed = seed.read_text(encoding="utf-8")
    assert f"{ACME}," in original_seed and "Europe/Rome" in original_seed
    write_export(ws.exports, "2026-11-03", "part-0000.jsonl", chat("tz", "2026-11-02T23:30", "u_tz"))
    write_export(ws.exports, "2026-11-04", "part-0000.jsonl", chat("ot", "2026-11-04T10:00", "u_other"))
    write_export(ws.exports, "2026-11-05", "part-0000.jsonl", chat("o2", "2026-11-05T10:00", "u_other"))

    reseeded = "seeds, the user-agent parser or the models' revision changed since the last build"
    first = ws.cli("refresh", "--day", "2026-11-03", "--day", "2026-11-04", env=env)
    assert reseeded not in first.stderr, first.stderr  # a new warehouse: its first build is complete anyway
    assert chat_date(ws, "u_tz") == ("2026-11-03", "Europe/Rome")

    seed.write_text(_with_timezone(original_seed, ACME, "UTC"), encoding="utf-8")
    edited = ws.cli("refresh", "--day", "2026-11-05", env=env)
    assert reseeded in edited.stderr, edited.stderr
    assert "dbt build --full-refresh" in edited.stderr
    assert chat_date(ws, "u_tz") == ("2026-11-02", "UTC")
    report = ws.report(ACME, "2026-11-02", "2026-11-02")
    assert report["timezone"] == "UTC"
    assert report["chats"]["total"] == 1

    # Restoring the seed is an edit too: back to Rome, without --full.
    seed.write_text(original_seed, encoding="utf-8")
    restored = ws.cli("refresh", "--day", "2026-11-05", env=env)
    assert reseeded in restored.stderr, restored.stderr
    assert chat_date(ws, "u_tz") == ("2026-11-03", "Europe/Rome")

    # And once rebuilt, the next refresh with the same seeds is incremental again: every completed
    # build records the fingerprint of its seeds.
    again = ws.cli("refresh", "--day", "2026-11-05", env=env)
    assert reseeded not in again.stderr, again.stderr
    assert "dbt build --full-refresh" not in again.stderr


def _with_timezone(text: str, assistant: str, tz: str) -> str:
    lines = text.splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith(f"{assistant},"):
            cells = line.rstrip("\n").split(",")
            cells[-1] = tz
            line = ",".join(cells) + "\n"
        out.append(line)
    return "".join(out)


def test_a_bad_seed_stops_refresh_and_demo_with_its_line_before_anything_is_written(workspace, checkout):
    """A timeout edited to 0 (an audit): the build used to fail after the day's load, naming a dbt
    test (`assert_channel_timeouts_positive: Got 1 result, ...`). Now `refresh` and `demo` stop
    first with one line naming the seed's file, line and what is allowed, exit 2, nothing written."""
    ws = workspace
    root, env = checkout
    seed = root / "seeds" / "channels.csv"
    seed.write_text(seed.read_text(encoding="utf-8").replace("web,30", "web,0"), encoding="utf-8")
    write_export(ws.exports, "2026-11-03", "part-0000.jsonl", chat("tz", "2026-11-02T23:30", "u_tz"))
    said = (f"assistant-analytics: error: {seed} line 2: inactivity_timeout_minutes '0' of channel 'web' is not "
            "valid: expected a whole number of minutes above 0, or empty for no timeout\n")
    refreshed = ws.cli("refresh", "--day", "2026-11-03", check=False, env=env)
    demo = Workspace(ws.root / "demo")  # a new folder, which the demo would fill
    demo.root.mkdir()
    demoed = demo.cli("demo", "--days", "1", check=False, env=env)
    for proc in (refreshed, demoed):
        assert (proc.returncode, proc.stderr, proc.stdout) == (2, said, ""), proc.stderr
    # no warehouse, build file, lock or refresh record; no sample export of the demo's
    assert sorted(p.name for p in ws.root.iterdir()) == ["checkout", "dagster_home", "demo", "exports"]
    assert sorted(p.name for p in demo.root.iterdir()) == ["dagster_home"]
