"""The KPI definition tests built on macros/rows_missing_or_extra.sql (dbt_project/tests/
assert_user_days_follow_definition.sql, assert_fct_users_previous_dates_follow_definition.sql,
assert_traffic_cells_follow_definition.sql), and the check of the daily sums
(assert_chats_daily_sums_follow_definition.sql), pass on a correct build and fail on a wrong row; the
privacy test (assert_no_user_text_in_marts) fails on a column named like user text or of type JSON.

Black-box: two hand-made export days through the CLI, then one field of each mart is broken in
the build file and `dbt test` is run by hand (no vars: every row is checked), as in
tests/test_test_scope.py.

The models' dbt unit tests (`unit_tests:` in their .yml files: hand-made rows, one rule each) pass
on the models as they are and each fails on a copy of the project whose model breaks its rule; a
refresh does not run them. They need the refreshed build file only for their inputs' column types.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import REPO, Workspace, dbt_by_hand, write_export
from test_test_scope import ACME, DAY1, DAY2, A, B, assert_ok, chat, dbt_test_by_hand, refresh, tamper

from orchestration.build.dbt_project import refresh_target_path
from orchestration.settings import build_path_for

pytestmark = pytest.mark.slow  # every test here works on a refreshed warehouse

KPI_TESTS = {"assert_user_days_follow_definition", "assert_fct_users_previous_dates_follow_definition",
             "assert_traffic_cells_follow_definition", "assert_chats_daily_sums_follow_definition"}
PRIVACY_TEST = "assert_no_user_text_in_marts"
REQUIRED_COLUMNS_TESTS = "dim_chats_not_null int_events_deduplicated_not_null"
# Each unit-tested model's rule broken in one place (text in the model's SQL, and its replacement)
RULES_BROKEN = {
    # a gap of exactly the timeout starts a new session
    "intermediate/int_events_sessionized.sql": ("\n            > cast(timeout_minutes",
                                                "\n            >= cast(timeout_minutes"),
    # a fallback before the request outranks the button
    "intermediate/int_handover_requests_classified.sql": (
        "when handover_via = 'button' then 'operator_button'\n"
        "            when coalesce(last_answer_was_fallback, false) then 'after_fallback'",
        "when coalesce(last_answer_was_fallback, false) then 'after_fallback'\n"
        "            when handover_via = 'button' then 'operator_button'"),
    # a retraction no longer wins over the rating before it
    "intermediate/int_feedback_ratings_finalized.sql": ("nulls_win=true", "nulls_win=false"),
    # a session of clicks only is no chat
    "intermediate/int_sessions_aggregated.sql": ("user_messages > 0 or clicks > 0 as is_chat",
                                                 "user_messages > 0 as is_chat"),
    # an event of an unknown type gives the user agent
    "intermediate/int_users_devices.sql": ("where is_known_type\n        and user_agent is not null",
                                           "where user_agent is not null"),
    # a fallback as the last turn resolves the chat
    "marts/fct_outcomes.sql": ("in ('user_message', 'click', 'fallback')", "in ('user_message', 'click')"),
    # of two votes at the same instant, the smaller event_id wins
    "marts/fct_csat.sql": ("order by occurred_at desc, event_id desc", "order by occurred_at desc, event_id"),
}


def unit_tests_of_the_models() -> dict[str, str]:
    """Each dbt unit test of dbt_project/models: its model."""
    found = {}
    for path in sorted((REPO / "dbt_project" / "models").rglob("*.yml")):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            found[test["name"]] = test["model"]
    return found


@pytest.fixture(scope="module")
def refreshed(module_workspace: Workspace) -> Workspace:
    """One refreshed warehouse for the tests below, on which every test they break passes first
    (one `dbt test` run for all, before any is broken); each test then breaks it in its own way
    (rows of the marts; added columns) that the other's tests do not read."""
    ws = module_workspace
    write_export(ws.exports, DAY1, "part-0000.jsonl",
                 chat("ka1", "2026-11-02T09:00", "ka-c1", A) + chat("kb1", "2026-11-02T10:00", "kb-c1", B))
    write_export(ws.exports, DAY2, "part-0000.jsonl", chat("ka2", "2026-11-03T09:00", "ka-c2", A))
    assert_ok(refresh(ws, "--all"), "refresh --all")
    proc = dbt_test_by_hand(ws, " ".join([*sorted(KPI_TESTS), PRIVACY_TEST, REQUIRED_COLUMNS_TESTS, "test_type:unit"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ws.unit_tests_passed = set(re.findall(r" PASS \w+::(\w+) ", proc.stdout))
    passed = len(re.findall(r" PASS ", proc.stdout))
    assert passed == len(KPI_TESTS) + 1 + len(REQUIRED_COLUMNS_TESTS.split()) + len(unit_tests_of_the_models()), \
        proc.stdout
    return ws


def change_one_row(ws: Workspace, mart: str, assignment: str, where: str) -> None:
    """Sets `assignment` on the one row of ACME's `mart` that `where` picks in the build file."""
    assert tamper(ws, f"update marts.{mart} set {assignment} where assistant_id = '{ACME}' and {where}") == 1


def test_user_day_kpi_tests_pass_then_fail_on_a_broken_row(refreshed: Workspace):
    ws = refreshed  # the tests passed on it as built

    # A's second day: its first chat date in the channel is day 1; B's browser: none was known;
    # A's first day: one more chat with a handover request than A's chats have; B's one traffic
    # cell: one message more.
    a_day1 = f"user_id = '{A['user']}' and chat_local_date = date '{DAY1}'"
    a_day2 = f"user_id = '{A['user']}' and chat_local_date = date '{DAY2}'"
    b = f"user_id = '{B['user']}'"
    change_one_row(ws, "fct_engagement", f"first_chat_local_date_in_channel = date '{DAY2}'", a_day2)
    change_one_row(ws, "fct_users", "browser = 'Netscape'", b)
    change_one_row(ws, "fct_users", "chats_with_handover_requests = chats_with_handover_requests + 1", a_day1)
    change_one_row(ws, "fct_traffic", "messages = messages + 1", b)
    # A's second day forgets the first: A would be counted twice in a period holding both days
    change_one_row(ws, "fct_users", "previous_chat_local_date = null", a_day2)

    # the daily sums: day 1 gets a resolved chat more than its chats (a count that must cover the
    # chats); day 2 a user message more than its chats hold (a recounted sum); a day after day 2,
    # without chats, gets a row
    change_one_row(ws, "fct_chats_daily", "resolved_chats = resolved_chats + 1", f"chat_local_date = date '{DAY1}'")
    change_one_row(ws, "fct_chats_daily", "user_messages = user_messages + 1", f"chat_local_date = date '{DAY2}'")
    assert tamper(ws, f"insert into marts.fct_chats_daily "
                      f"select * replace (chat_local_date + 1 as chat_local_date) from marts.fct_chats_daily "
                      f"where assistant_id = '{ACME}' and chat_local_date = date '{DAY2}'") == 1

    proc = dbt_test_by_hand(ws, " ".join(sorted(KPI_TESTS)))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    # each broken row shows twice: the expected row the mart lacks, and the mart's unexpected row
    failures = dict(re.findall(r"Failure in test (\w+).*?Got (\d+) results", output, flags=re.S))
    # (fct_users: B's row and A's first day; fct_engagement: A's second day)
    assert failures == {"assert_user_days_follow_definition": "6",
                        # A's second day (its row twice, and November's users over all channels:
                        # A counted twice); A's first day now has a chat with a handover request
                        # that dim_chats lacks (November's users with requests in the channel)
                        "assert_fct_users_previous_dates_follow_definition": "4",
                        "assert_traffic_cells_follow_definition": "2",
                        # days 1 and 2 twice, the extra day once
                        "assert_chats_daily_sums_follow_definition": "5"}, output


def test_privacy_test_fails_on_a_text_or_json_column(refreshed: Workspace):
    """assert_no_user_text_in_marts passes on a correct build (the fixture), then names the two
    columns added to the build file: a mart column named like user text, an intermediate column of
    type JSON."""
    ws = refreshed
    conn = duckdb.connect(str(build_path_for(ws.warehouse)))
    try:
        conn.execute("alter table marts.fct_messages add column message_text varchar")
        conn.execute("alter table intermediate.int_sessions_aggregated add column payload json")
    finally:
        conn.close()
    proc = dbt_test_by_hand(ws, PRIVACY_TEST)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Got 2 results" in output, output



def test_first_copy_test_names_the_first_copy_staging_lost(refreshed: Workspace):
    """assert_first_copy_wins' second half: a first copy in raw that int_events_deduplicated has no
    row of is "lost by staging", and of that event's copies only the first (by export position) is
    named, not a later copy added in another file of the day. Before the required-columns test, which
    adds a staged row of no loaded copy; the other tests here read neither table."""
    ws = refreshed
    assert tamper(ws, "insert into raw.events select * replace ('zz-later.jsonl' as file_name) "
                      "from raw.events where event_id = 'ka2-1'") == 1
    assert tamper(ws, "delete from intermediate.int_events_deduplicated where event_id = 'ka2-1'") == 1
    proc = dbt_by_hand(build_path_for(ws.warehouse), ws.root / "dbt_target", "test", "--select",
                       "assert_first_copy_wins", "--vars", "{test_scope: all}", "--store-failures")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and re.search(r"Failure in test assert_first_copy_wins.*?Got 1 result", output,
                                              flags=re.S), output
    conn = duckdb.connect(str(build_path_for(ws.warehouse)), read_only=True)
    try:
        [schema] = [r[0] for r in conn.execute("select table_schema from information_schema.tables "
                                                "where table_name = 'assert_first_copy_wins'").fetchall()]
        failures = conn.execute(
            f'select problem, event_id, file_name from "{schema}".assert_first_copy_wins').fetchall()
    finally:
        conn.close()
    assert failures == [("lost by staging", "ka2-1", "part-0000.jsonl")]

def test_required_columns_test_passes_then_names_the_columns_with_nulls(refreshed: Workspace):
    """not_null_columns (tests/generic/): one test per model for its required columns, passed on the
    build (the fixture); a column required on some rows only (`where`) fails only on those. The
    other tests here do not break these two tables."""
    ws = refreshed
    assert tamper(ws, f"update marts.dim_chats set channel = null "
                      f"where assistant_id = '{ACME}' and user_id = '{A['user']}' "
                      f"and chat_local_date = date '{DAY1}'") == 1
    # message_id is required on messages only: a bot message without one fails, and so would a
    # user message, but an event of another type (here one of a type unknown to this version) is not
    events = "intermediate.int_events_deduplicated"
    assert tamper(ws, f"update {events} set message_id = null where event_id = 'ka1-2'") == 1
    conn = duckdb.connect(str(build_path_for(ws.warehouse)))
    try:
        conn.execute(f"insert into {events} select * replace ('survey_shown' as event_type, false as is_known_type, "
                     f"'kx-1' as event_id, null as message_id) from {events} where event_id = 'ka1-1'")
    finally:
        conn.close()
    proc = dbt_test_by_hand(ws, REQUIRED_COLUMNS_TESTS)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    failures = dict(re.findall(r"Failure in test (\w+).*?Got (\d+) results?", output, flags=re.S))
    assert failures == {"dim_chats_not_null": "1", "int_events_deduplicated_not_null": "1"}, output


def test_unit_tests_pass_on_the_models_and_a_refresh_runs_none(refreshed: Workspace):
    """Every unit test passed (the fixture's `dbt test`), one per unit-tested model at least; the
    refresh that built the file ran none (its dbt.log names every node it started)."""
    unit_tests = unit_tests_of_the_models()
    assert refreshed.unit_tests_passed == set(unit_tests)
    assert {Path(model).stem for model in RULES_BROKEN} == set(unit_tests.values())
    log = (refresh_target_path(build_path_for(refreshed.warehouse)) / "dbt.log").read_text()
    assert "START sql incremental model intermediate.int_events_sessionized" in log
    assert "unit_test" not in log.split("Found ")[-1]


def test_each_unit_test_fails_on_a_model_that_breaks_its_rule(refreshed: Workspace, tmp_path: Path):
    """A copy of the project, each unit-tested model's rule broken in one place (RULES_BROKEN), its
    unit tests run by hand: every unit test fails."""
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (tmp_path / "seeds").symlink_to(REPO / "seeds")
    for model, (rule, broken) in RULES_BROKEN.items():
        sql = project / "models" / model
        assert sql.read_text().count(rule) == 1, model
        sql.write_text(sql.read_text().replace(rule, broken))
    proc = dbt_by_hand(build_path_for(refreshed.warehouse), tmp_path / "dbt_target", "test", "--project-dir",
                       str(project), "--select", "test_type:unit")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert set(re.findall(r"Failure in unit_test (\w+)", output)) == set(unit_tests_of_the_models()), output
