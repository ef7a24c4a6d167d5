"""The scope of the dbt tests (docs/incremental.md, var test_scope): an incremental refresh checks
only the users it recomputed (intermediate.int_users_affected); a full rebuild and a by-hand
`dbt test --vars '{test_scope: all}'` check every row.

Black-box through the CLI. Two hand-made export days; after the first is loaded, each case breaks
one row of the refresh's build file (the file the next refresh builds in, no process has it open in
between) so that a singular test fails on it, and looks at which run sees the broken row. The two
rows are of different tables and tests, so one run (the module's fixture) serves both cases.

1. The broken row belongs to user B, whom the second export day does not touch: the incremental
   refresh of that day succeeds and publishes B's broken row as it is; a by-hand
   `dbt test --select assert_one_first_chat_per_user` with test_scope all fails on it;
   `refresh --full` succeeds and repairs it.
2. The broken row is a de-duplicated event of B (int_events_deduplicated; B is not recomputed)
   that has a later copy in an affected
   user's export (user A's). The refresh re-ranks every copy of A's events but compares only the
   first copies of the users it recomputed with the rows it wrote, so it succeeds (and A's later
   copy is no false alarm); the by-hand `dbt test` of assert_first_copy_wins fails on B's row.
   A broken row that every refresh checks (an export day's file line count, which
   data_quality_daily, rebuilt on every run, is held to) fails the incremental refresh, with a
   one-line error naming the test; `refresh --full` after the repair rebuilds B's row.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import duckdb
import pytest
from conftest import CLI, Workspace, dbt_by_hand, environment_without_settings, event, write_export

from orchestration.settings import build_path_for

pytestmark = pytest.mark.slow  # every test here works on a refreshed warehouse

ACME = "acme-support"
DAY1, DAY2 = "2026-11-02", "2026-11-03"
A = {"user": "scope_a"}
B = {"user": "scope_b"}

# The dbt project's files changed while a refresh ran (another edit of the checkout): not about
# the data, run it once more (as tests/test_incremental.py does).
MANIFEST_RACE = re.compile(r"KeyError: '(test|model|seed|snapshot)\.assistant_analytics\.")


def chat(prefix: str, when: str, conversation: str, who: dict) -> list[dict]:
    """One chat: a user message and the answer 5 seconds later."""
    return [
        event(f"{prefix}-1", "user_message", f"{when}:00Z", message_id=f"{prefix}-1",
              conversation=conversation, **who),
        event(f"{prefix}-2", "bot_message", f"{when}:05Z", message_id=f"{prefix}-2",
              conversation=conversation, **who),
    ]


def refresh(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    """`refresh` through the CLI, with dbt's log on stderr (ANALYTICS_VERBOSE) to name a failed test."""
    env = environment_without_settings()
    env["ANALYTICS_VERBOSE"] = "1"
    env["DAGSTER_HOME"] = str(ws.dagster_home)
    cmd = [CLI, "refresh", "--warehouse", str(ws.warehouse), "--exports", str(ws.exports), *args]
    for _ in range(2):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=ws.root)
        if proc.returncode == 0 or not MANIFEST_RACE.search(proc.stderr):
            break
    return proc


def assert_ok(proc: subprocess.CompletedProcess, what: str) -> None:
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"


def tamper(ws: Workspace, sql: str) -> int:
    """Runs an update on the build file; returns the number of rows it changed."""
    conn = duckdb.connect(str(build_path_for(ws.warehouse)))
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def dbt_test_by_hand(ws: Workspace, *tests: str) -> subprocess.CompletedProcess:
    """`dbt test` of every row (test_scope all) on the build file, as an engineer runs it from
    dbt_project/; its target folder is the workspace's."""
    return dbt_by_hand(build_path_for(ws.warehouse), ws.root / "dbt_target",
                       "test", "--select", *tests, "--vars", "{test_scope: all}")


def b_first_chats(ws: Workspace) -> list[tuple]:
    return ws.query("select is_first_chat, user_chat_number from marts.dim_chats "
                    "where assistant_id = ? and user_id = ? order by started_at", [ACME, B["user"]])


def dedup_row_of_sb1(ws: Workspace) -> list[tuple]:
    return ws.query("select user_id, line_number from intermediate.int_events_deduplicated "
                    "where event_id = 'sb1-1'")


@dataclasses.dataclass
class ScopeRun:
    """What one workspace showed along the run that both cases share (they break different rows of
    the same build file, so one run serves both, as the module docstring tells)."""
    ws: Workspace
    day1: subprocess.CompletedProcess
    day1_first_chats: list[tuple]
    day1_sb1: list[tuple]
    tampered: tuple[int, int]
    day2: subprocess.CompletedProcess
    day2_first_chats: list[tuple]
    day2_a_chats: list[tuple]
    day2_sb1: list[tuple]
    by_hand: subprocess.CompletedProcess  # one run of both tests, on the day-2 build file
    day2_bad_count: subprocess.CompletedProcess
    full: subprocess.CompletedProcess
    full_first_chats: list[tuple]
    full_sb1: list[tuple]
    by_hand_after_full: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> ScopeRun:
    ws = Workspace(tmp_path_factory.mktemp("scope"))
    # Day 1: a chat of A and one of B. Event sb1-1 has two copies: the first is B's, a later one
    # (other content, in A's chat) is A's. Day 2: another chat of A only.
    day1 = chat("sa1", "2026-11-02T09:00", "sa-c1", A) + chat("sb1", "2026-11-02T10:00", "sb-c1", B)
    day1.append(event("sb1-1", "user_message", "2026-11-02T09:00:30Z", message_id="sb1-1",
                      conversation="sa-c1", **A))
    write_export(ws.exports, DAY1, "part-0000.jsonl", day1)
    write_export(ws.exports, DAY2, "part-0000.jsonl", chat("sa2", "2026-11-03T09:00", "sa-c2", A))

    day1_run = refresh(ws, "--day", DAY1)
    day1_first_chats, day1_sb1 = b_first_chats(ws), dedup_row_of_sb1(ws)
    # Case 1: B's only chat is no longer flagged as B's first chat (assert_one_first_chat_per_user
    # fails on B). Case 2: B's de-duplicated copy of sb1-1 no longer points at the first copy's line.
    tampered = (
        tamper(ws, f"update marts.dim_chats set is_first_chat = false "
                   f"where assistant_id = '{ACME}' and user_id = '{B['user']}'"),
        tamper(ws, "update intermediate.int_events_deduplicated set line_number = line_number + 1000 "
                   "where event_id = 'sb1-1'"),
    )
    # Day 2 touches A only.
    day2_run = refresh(ws, "--day", DAY2)
    day2_first_chats, day2_sb1 = b_first_chats(ws), dedup_row_of_sb1(ws)
    day2_a_chats = ws.query("select count(*) from marts.dim_chats where user_id = ?", [A["user"]])
    # one by-hand run of both tests (each fails under its own name): one dbt process, not two
    by_hand = dbt_test_by_hand(ws, "assert_one_first_chat_per_user", "assert_first_copy_wins")
    # Day 1's files now claim one line more than the day has: data_quality_daily is rebuilt and
    # checked whole on every run, so the next incremental refresh fails.
    assert tamper(ws, f"update raw.export_files set lines_read = lines_read + 1 "
                      f"where export_date = '{DAY1}'") == 1
    day2_bad_count = refresh(ws, "--day", DAY2)
    # Repaired, a full rebuild recomputes every user from raw and checks every row.
    assert tamper(ws, f"update raw.export_files set lines_read = lines_read - 1 "
                      f"where export_date = '{DAY1}'") == 1
    full_run = refresh(ws, "--full")
    return ScopeRun(ws, day1_run, day1_first_chats, day1_sb1, tampered, day2_run, day2_first_chats,
                    day2_a_chats, day2_sb1, by_hand, day2_bad_count, full_run, b_first_chats(ws),
                    dedup_row_of_sb1(ws), dbt_test_by_hand(ws, "assert_one_first_chat_per_user"))


def test_unaffected_users_rows_are_checked_by_full_rebuild_and_by_hand_only(run: ScopeRun):
    assert_ok(run.day1, f"refresh --day {DAY1}")
    assert run.day1_first_chats == [(True, 1)]
    assert run.tampered[0] == 1

    # Day 2 touches A only: B is not recomputed, not checked, and the refresh succeeds.
    assert_ok(run.day2, f"refresh --day {DAY2} (B is not affected)")
    assert run.day2_first_chats == [(False, 1)], "B's broken row should be published as it was"
    assert run.day2_a_chats == [(2,)]

    # By hand, with test_scope all, the test checks every user and sees B.
    proc = run.by_hand
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"the by-hand dbt test should fail on B's row:\n{output}"
    assert re.search(r"Failure in test assert_one_first_chat_per_user", output), output

    # A full rebuild recomputes (and checks) every user: B is repaired.
    assert_ok(run.full, "refresh --full")
    # `--full` alone loads nothing: its line says what it rebuilds from
    assert f"run 1/1: every model rebuilt from the loaded export days {DAY1} .. {DAY2} (2 days), none loaded again" \
        in run.full.stderr
    assert run.full_first_chats == [(True, 1)]
    proc = run.by_hand_after_full
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_row_the_refresh_did_not_write_is_checked_by_hand_and_history_checks_fail_it(run: ScopeRun):
    assert_ok(run.day1, f"refresh --day {DAY1}")
    assert run.day1_sb1 == [(B["user"], 3)]
    assert run.tampered[1] == 1

    # Day 2 touches A only: A's copy of sb1-1 is re-ranked with B's (not the first: a check that
    # narrowed the copies by user alone would see A's copy as the first and staging lose it), B's
    # row is not rewritten and not compared, and the refresh succeeds.
    assert_ok(run.day2, f"refresh --day {DAY2} (B is not affected)")
    assert run.day2_sb1 == [(B["user"], 1003)]

    # By hand, with test_scope all, the test checks every event and sees B's row.
    proc = run.by_hand
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"the by-hand dbt test should fail on B's staged row:\n{output}"
    assert re.search(r"Failure in test assert_first_copy_wins", output), output

    # A broken line count of day 1, which every run checks, fails the incremental refresh.
    proc = run.day2_bad_count
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"refresh --day {DAY2} should fail on day 1's line count:\n{output}"
    failed = set(re.findall(r"Failure in test (\w+)", output))
    assert failed == {"assert_data_quality_lines_add_up"}, output[-5000:]
    # the CLI's one-line error names the failed test and what dbt said
    expected = r"^assistant-analytics: error: refresh of .* failed: assert_data_quality_lines_add_up: Got \d+ results?"
    assert re.search(expected, proc.stderr.strip().splitlines()[-1]), output[-5000:]

    # Repaired, a full rebuild recomputes B's row from raw and checks every row.
    assert_ok(run.full, "refresh --full")
    assert run.full_sb1 == [(B["user"], 3)]
