"""An edited seed (interfaces.md "Seeds": a deployment edits seeds/assistants.csv) is picked up by
the next incremental refresh, which then rebuilds every model, as `refresh --full` would.

The build file records a fingerprint of the seeds its models were built with
(raw.built_with_seeds); a refresh that finds other seeds rebuilds in full.

Hand-made data: user u_tz of acme-support (Europe/Rome, UTC+1 in November) chats at
2026-11-02 23:30Z, i.e. 00:30 on 2026-11-03 in Rome. A second export day brings an unrelated
user (u_other), so the refresh of that day recomputes only u_other unless the seeds changed.
With acme-support moved to UTC in the seed, u_tz's chat is on 2026-11-02.
"""

from __future__ import annotations

import pytest
from conftest import REPO, event, write_export

pytestmark = [pytest.mark.slow, pytest.mark.exclusive]  # refreshes; edits seeds/assistants.csv

ACME = "acme-support"
SEED = REPO / "seeds" / "assistants.csv"


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
def original_seed():
    text = SEED.read_text(encoding="utf-8")
    assert f"{ACME}," in text and "Europe/Rome" in text
    try:
        yield text
    finally:
        SEED.write_text(text, encoding="utf-8")


def test_incremental_refresh_after_a_seed_edit_rebuilds_in_full(workspace, original_seed):
    ws = workspace
    write_export(ws.exports, "2026-11-03", "part-0000.jsonl", chat("tz", "2026-11-02T23:30", "u_tz"))
    write_export(ws.exports, "2026-11-04", "part-0000.jsonl", chat("ot", "2026-11-04T10:00", "u_other"))
    write_export(ws.exports, "2026-11-05", "part-0000.jsonl", chat("o2", "2026-11-05T10:00", "u_other"))

    first = ws.cli("refresh", "--day", "2026-11-03", "--day", "2026-11-04")
    assert "seeds changed" not in first.stderr  # a new warehouse: its first build is complete anyway
    assert chat_date(ws, "u_tz") == ("2026-11-03", "Europe/Rome")

    SEED.write_text(_with_timezone(original_seed, ACME, "UTC"), encoding="utf-8")
    edited = ws.cli("refresh", "--day", "2026-11-05")
    assert "seeds changed since the last build" in edited.stderr, edited.stderr
    assert "dbt build --full-refresh" in edited.stderr
    assert chat_date(ws, "u_tz") == ("2026-11-02", "UTC")
    report = ws.report(ACME, "2026-11-02", "2026-11-02")
    assert report["timezone"] == "UTC"
    assert report["chats"]["total"] == 1

    # Restoring the seed is an edit too: back to Rome, without --full.
    SEED.write_text(original_seed, encoding="utf-8")
    restored = ws.cli("refresh", "--day", "2026-11-05")
    assert "seeds changed since the last build" in restored.stderr
    assert chat_date(ws, "u_tz") == ("2026-11-03", "Europe/Rome")

    # And once rebuilt, the next refresh with the same seeds is incremental again: every completed
    # build records the fingerprint of its seeds.
    again = ws.cli("refresh", "--day", "2026-11-05")
    assert "seeds changed" not in again.stderr
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
