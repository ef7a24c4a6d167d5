"""Rows of the build file of tests/test_report_kpis.py's scenario broken as a model bug would break
them: one break for each singular dbt test (dbt_project/tests/assert_*.sql) that no other test file
breaks, and for one test of each generic test (dbt_project/tests/generic) that none breaks. Each
break touches a few rows, picked by the scenario's ids (its module docstring tells every user and
chat; a chat_id is derived from its conversation and first event, so it is the same in every
build), and is the bug of its `bug` text. test_report_kpis.py applies them all to a copy of its
build file and runs those tests by hand: each must fail, under its own name.

The breaks touch different users' rows where they can, so that one does not hide another: a test
that a break of another test's rows also fails is named in that break's `bug` text."""

from __future__ import annotations

from typing import NamedTuple

ACME = "acme-support"


class Break(NamedTuple):
    bug: str  # the model bug that the changed rows stand for
    statements: tuple[str, ...]  # DuckDB statements on the build file, in order
    rows: tuple[int, ...]  # the rows each statement changes


# The singular tests that other test files break, and the file that does.
PROVEN_ELSEWHERE = {
    "assert_assistant_timezones_are_valid": "test_seeds.py",
    "assert_channel_timeouts_positive": "test_seeds.py",
    "assert_chats_daily_sums_follow_definition": "test_kpi_tests_fail_on_wrong_marts.py",
    "assert_data_quality_lines_add_up": "test_test_scope.py",
    "assert_fct_users_previous_dates_follow_definition": "test_kpi_tests_fail_on_wrong_marts.py",
    "assert_first_copy_wins": "test_test_scope.py",
    "assert_no_user_text_in_marts": "test_kpi_tests_fail_on_wrong_marts.py",
    "assert_one_first_chat_per_user": "test_test_scope.py",
    "assert_traffic_cells_follow_definition": "test_kpi_tests_fail_on_wrong_marts.py",
    "assert_user_days_follow_definition": "test_kpi_tests_fail_on_wrong_marts.py",
}

# Each generic test of dbt_project/tests/generic: one of its tests (by the name a model's .yml gives
# it) that a test file breaks, and that file.
GENERIC_PROVEN = {
    "not_null_columns": ("dim_chats_not_null", "test_kpi_tests_fail_on_wrong_marts.py"),
    "relationships_combination": ("fct_agents_agent_in_dim_agents", "kpi_test_breaks.py"),
    "unique_combination": ("fct_users_one_row_per_user_channel_day", "kpi_test_breaks.py"),
}

# Tests of severity `warn` (their dbt config): they warn instead of failing. The scenario gives
# assert_feedback_rates_known_answers one row without any break: feedback l9-01 rates message
# nope-404, which no answer has (section L of the scenario).
WARN_ONLY = {"assert_feedback_rates_known_answers": 1}

CHAT_G = "c81b2680298a1c16a16bb8382c7ae70c"  # u_click's click-only chat
CHAT_J = "d007a09698a18a83e93fb0948a245785"  # u_csat's chat

BREAKS: dict[str, Break] = {
    # -- chats and sessions ---------------------------------------------------------------------
    "assert_chat_duration_non_negative": Break(
        "a chat's duration computed as started_at - ended_at: u_voice's 7,220 s call stored as -7,220 s "
        "(fct_chats copies dim_chats)",
        ("update marts.dim_chats set duration_seconds = -duration_seconds "
         "where user_id = 'u_voice' and chat_id = '0d535d843746d40e3c8b20ecdd6e3fae'",
         "update marts.fct_chats set duration_seconds = -duration_seconds "
         "where user_id = 'u_voice' and chat_id = '0d535d843746d40e3c8b20ecdd6e3fae'"),
        (1, 1)),
    "assert_chat_facts_match_dim_chats": Break(
        "fct_chats' local date taken as the UTC date: u_utcprev's chat T (00:30 in Rome on 11-23, "
        "23:30Z on 11-22) filed under 11-22",
        ("update marts.fct_chats set chat_local_date = date '2026-11-22' "
         "where user_id = 'u_utcprev' and chat_id = 'f49139efca1837cbfbb98cfdf4ed978a'",),
        (1,)),
    "assert_chat_grain_marts_one_row_per_chat": Break(
        "an incremental append without the unique key: u_click's chat G stored twice in fct_chats",
        ("insert into marts.fct_chats select * from marts.fct_chats "
         f"where user_id = 'u_click' and chat_id = '{CHAT_G}'",),
        (1,)),
    "assert_chat_ids_stable": Break(
        "a chat's first event taken as its smallest event_id, not its first in time: u_csat's chat J "
        "names j-0 (the 09:06 csat) instead of j-1",
        (f"update marts.dim_chats set first_event_id = 'j-0' where user_id = 'u_csat' and chat_id = '{CHAT_J}'",),
        (1,)),
    "assert_chat_local_dates_in_assistant_timezone": Break(
        "a chat converted with the UTC fallback although its assistant is in the seed (Europe/Rome): "
        "u_multi's chat Q2 starts at 11:00 local instead of 12:00, on the same date",
        ("update marts.dim_chats set timezone = 'UTC', started_local_at = started_at at time zone 'UTC' "
         "where user_id = 'u_multi' and chat_id = '78546067d2fe6a24e8cdbd48bd68c74e'",),
        (1,)),
    "assert_every_chat_has_a_user_message_or_click": Break(
        "a chat's user messages counted after its start, missing the opening message: u_greet2's chat "
        "P2 (one user message, no click) kept as a chat with neither",
        ("update marts.dim_chats set user_messages = 0 "
         "where user_id = 'u_greet2' and chat_id = 'ec4c5aa5d0badbe61c02e580c8b7a82b'",),
        (1,)),
    "assert_sessionization_covers_every_event": Break(
        "sessionization leaves out a known type (click): u_fb's click l3-c1 missing",
        ("delete from intermediate.int_events_sessionized where user_id = 'u_fb' and event_id = 'l3-c1'",),
        (1,)),
    "assert_sessions_split_only_at_inactivity_gaps": Break(
        "a session split where there is no gap: u_agent's m-04, 15 s after m-03 on web (30 min "
        "timeout), starts a session of its own, with its own first event and derived session_id",
        ("update intermediate.int_events_sessionized set session_first_event_id = event_id, "
         "session_id = md5(concat_ws('|', length(assistant_id)::varchar, assistant_id, length(channel)::varchar, "
         "channel, length(user_id)::varchar, user_id, length(conversation_id)::varchar, conversation_id, "
         "length(event_id)::varchar, event_id)) "
         "where user_id = 'u_agent' and event_id = 'm-04'",),
        (1,)),
    # -- feedback, CSAT, handover, outcomes, agents ---------------------------------------------
    "assert_agents_rows_have_counts": Break(
        "the ratings of answers that are not reviewable counted for their agent: u_agent's positive "
        "rating of answer m-10 (agent `silent`) gets a row",
        ("insert into marts.fct_agents select chat_id, assistant_id, channel, user_id, chat_local_date, "
         "'silent' as agent_id, 0 as views, 1 as positive, 0 as negative, refreshed_at from marts.fct_agents "
         "where user_id = 'u_agent' and chat_id = '9b8fcfcfcdfc9b075b7845d164b76529' and agent_id = 'faq'",),
        (1,)),
    "assert_csat_scores_between_1_and_5": Break(
        "the csat events counted over every delivered copy: u_csat2's csat k-3, delivered twice, counts 2",
        ("update marts.fct_csat set csat_events = 2 "
         "where user_id = 'u_csat2' and chat_id = 'e19466f5c5fe23e02a806f7d64fcda13'",),
        (1,)),
    "assert_csat_vote_is_latest": Break(
        "a tie between two votes at one instant broken by the smaller event_id: u_csat's j-0 (3) wins "
        "over j-4 (4), both at 08:06:00",
        (f"update marts.fct_csat set score = 3 where user_id = 'u_csat' and chat_id = '{CHAT_J}'",),
        (1,)),
    "assert_feedback_answers_add_up": Break(
        "a tie of ratings classed with >=: u_fb's chat L2 (1 positive, 1 negative) more_positive "
        "instead of balanced",
        ("update marts.fct_feedback set feedback_class = 'more_positive' "
         "where user_id = 'u_fb' and chat_id = 'af989a5494d3092be6c3389ec5fe30d0'",),
        (1,)),
    "assert_feedback_final_ratings_follow_definition": Break(
        "a rating matched to the session it falls in, not to its answer: u_fbgap's rating e-3 (in the "
        "gap after chat E1) lost, so answer e-2 counts as without feedback",
        ("update marts.fct_feedback set positive = 0, no_feedback = 1, feedback_class = 'no_feedback' "
         "where user_id = 'u_fbgap' and chat_id = '8d55eaf063cd7507c8c9f08792e8419c'",),
        (1,)),
    "assert_feedback_rates_known_answers": Break(
        "a feedback's message_id filled with its own event_id: u_greet's feedback f-6 rates message f-6, "
        "which no answer has",
        ("update intermediate.int_events_deduplicated set message_id = event_id "
         "where user_id = 'u_greet' and event_id = 'f-6'",),
        (1,)),
    "assert_handover_rate_between_0_and_1": Break(
        "has_requests computed as requests >= 0: u_gap30's chat A, without a request, counts u_gap30 "
        "among the users with requests (assert_chats_with_and_without_requests_add_up fails on it too: "
        "the flag is the only way to the rate)",
        ("update marts.fct_handover set has_requests = true "
         "where user_id = 'u_gap30' and chat_id = '037c14fe6f38d1548609367ddb80be28'",),
        (1,)),
    "assert_handover_triggers_follow_definition": Break(
        "a request's trigger read from the answers strictly before it: u_tie's request h-04, at the "
        "instant of fallback h-03 (a smaller event_id), counted direct instead of after a fallback",
        ("update marts.fct_handover set direct_requests = direct_requests + 1, "
         "after_fallback_requests = after_fallback_requests - 1 "
         "where user_id = 'u_tie' and chat_id = 'c73db879af12e528a2abdd431f228bf5'",),
        (1,)),
    "assert_outcomes_and_answers_follow_definition": Break(
        "a click as the last turn not taken as abandoned: u_click's click-only chat G resolved",
        (f"update marts.fct_outcomes set outcome = 'resolved' where user_id = 'u_click' and chat_id = '{CHAT_G}'",),
        (1,)),
    # -- users, engagement, retention, traffic, clicks, the loader ------------------------------
    "assert_chats_with_and_without_requests_add_up": Break(
        "has_requests computed as requests > 1: u_tie's chat with one request reads as without",
        ("update marts.fct_handover set has_requests = false "
         "where user_id = 'u_tie' and chat_id = 'ecccc3c913421319728a69c331a70d6e'",),
        (1,)),
    "assert_clicks_add_up_to_chat_clicks": Break(
        "clicks kept for url and answer destinations only: u_fb's click \"Call us\" to a phone lost",
        ("delete from marts.fct_clicks where user_id = 'u_fb' and chat_id = 'cdeb40e35f7efa09cb858e34decef2d3' "
         "and title = 'Call us' and destination_type = 'phone'",),
        (1,)),
    "assert_device_type_follows_definition": Break(
        "the device read from the user's earliest event of any type (u_dev's widget_opened n-00, an "
        "iPhone) instead of the earliest of a known type (Firefox on a Mac); fct_users copies dim_users",
        tuple(f"update marts.{mart} set user_agent_device_type = 'mobile', device_type = 'mobile', "
              f"browser = 'Mobile Safari' where assistant_id = '{ACME}' and user_id = 'u_dev'"
              for mart in ("dim_users", "fct_users")),
        (1, 1)),
    "assert_dim_users_unique": Break(
        "a user's lifetime chats counted as sessions: u_greet2's greeted-only session P1 counted",
        (f"update marts.dim_users set lifetime_chats = 2 where assistant_id = '{ACME}' and user_id = 'u_greet2'",),
        (1,)),
    "assert_new_plus_returning_equals_active": Break(
        "the first chat date in a channel taken over every channel: u_multi's web day 11-23 gets its "
        "whatsapp chat's 11-22 (assert_user_days_follow_definition fails on it too: it rebuilds every "
        "fct_engagement row)",
        (f"update marts.fct_engagement set first_chat_local_date_in_channel = date '2026-11-22' "
         f"where assistant_id = '{ACME}' and user_id = 'u_multi' and channel = 'web' "
         f"and chat_local_date = date '2026-11-23'",),
        (1,)),
    "assert_no_line_both_loaded_and_rejected": Break(
        "rejected lines numbered from 0: the invalid JSON on line 3 of 11-23's part-0001.jsonl.gz kept "
        "as line 2, the line loaded as u_csat2's k-3",
        ("update raw.rejected_lines set line_number = 2 where export_date = date '2026-11-23' "
         "and file_name = 'part-0001.jsonl.gz' and line_number = 3 and reason = 'invalid_json'",),
        (1,)),
    "assert_retention_follows_definition": Break(
        "a second chat on the first chat's day counted as a return: u_gap31 (two chats on 11-23) "
        "returned 0 days after",
        (f"update marts.fct_retention set first_return_local_date = date '2026-11-23', days_to_return = 0, "
         f"returned_within_7d = true, returned_within_30d = true, "
         f"first_return_local_date_in_channel = date '2026-11-23', days_to_return_in_channel = 0, "
         f"returned_within_7d_in_channel = true, returned_within_30d_in_channel = true "
         f"where assistant_id = '{ACME}' and user_id = 'u_gap31' and channel = 'web'",),
        (1,)),
    # -- generic tests (dbt_project/tests/generic), one of each ---------------------------------
    "fct_users_one_row_per_user_channel_day": Break(
        "an incremental append without the unique key: u_tg's user-day stored twice "
        "(assert_user_days_follow_definition fails on it too)",
        ("insert into marts.fct_users select * from marts.fct_users "
         f"where assistant_id = '{ACME}' and user_id = 'u_tg'",),
        (1,)),
    "fct_agents_agent_in_dim_agents": Break(
        "an agent's row keyed by its name instead of its agent_id: u_ret's views of `billing` under "
        "`Billing`, which dim_agents has no row for",
        ("update marts.fct_agents set agent_id = 'Billing' "
         "where user_id = 'u_ret' and chat_id = 'bcfb937b5aa6d33e31b0b9c431b20ec4' and agent_id = 'billing'",),
        (1,)),
    "assert_traffic_messages_equal_chat_messages": Break(
        "traffic counted on the chat's start date only: u_late23's message at 00:10 on 11-24 lost "
        "(assert_traffic_cells_follow_definition fails on it too: it rebuilds every cell)",
        (f"delete from marts.fct_traffic where assistant_id = '{ACME}' and user_id = 'u_late23' "
         f"and channel = 'web' and local_date = date '2026-11-24'",),
        (1,)),
}

# The sessions test's two other ways to fail, applied to a copy of their own (u_gap31's rows are
# the retention break's above): each event the model puts in the wrong session is one row.
SESSIONS_TEST = "assert_sessions_split_only_at_inactivity_gaps"
MORE_SESSIONS_BREAKS = (
    Break("two sessions merged (a gap of 30 min 1 s on web not seen as one): u_gap31's chat B2's events "
          "b-3 and b-4 given chat B1's first event b-1 and its session_id",
          ("update intermediate.int_events_sessionized set session_first_event_id = 'b-1', session_id = ("
           "select session_id from intermediate.int_events_sessionized where event_id = 'b-1') "
           "where user_id = 'u_gap31' and event_id in ('b-3', 'b-4')",),
          (2,)),
    Break("a session_id derived without the lengths of its parts, for one event whose first event is right: "
          "u_ret's o1-02 of chat O1",
          ("update intermediate.int_events_sessionized set session_id = md5(concat_ws('|', assistant_id, channel, "
           "user_id, conversation_id, session_first_event_id)) where user_id = 'u_ret' and event_id = 'o1-02'",),
          (1,)),
)

