"""End-to-end tests of kpis.md "Beyond the platform" (outcomes, answers, retention, daily series,
previous period): hand-made exports -> `refresh --all` -> `report --format json`.

Every expected number below was worked out by hand from /work/shared/spec/kpis.md and the report
shape of interfaces.md; the comments show the arithmetic. One workspace is refreshed once for the
whole module.

Everything belongs to initech-help (Asia/Tokyo, +09:00 all year, far from UTC): times are written
with the +09:00 offset, so they read as local time; the comments give the UTC instant where the
UTC date differs, which is where a UTC-based rule would go wrong. Each chat has a conversation of
its own.

Retention: first chats on 2025-11-03 (local), each chat a user_message and an answer 10 s later.
  r_same   A 11-03 00:30 (11-02 15:30Z)   B 11-03 23:00 (11-03 14:00Z)   same local date: no return
  r_next   A 11-03 23:30 (11-03 14:30Z)   B 11-04 00:10 (11-03 15:10Z)   1 day: 7d and 30d
  r_7      A 11-03 10:00                  B 11-10 23:50 (11-10 14:50Z)   7 days: 7d and 30d
  r_8      A 11-03 10:00                  B 11-11 00:10 (11-10 15:10Z)   8 days (7 in UTC): 30d only
  r_30     A 11-03 12:00                  B 12-03 23:30 (12-03 14:30Z)   30 days: 30d only
  r_31     A 11-03 12:00                  B 12-04 00:30 (12-03 15:30Z)   31 days (30 in UTC): none
  r_chan   A 11-03 12:00 web              B 11-05 12:00 whatsapp         2 days, in another channel
  r_old    A 10-20 12:00 whatsapp         B 11-03 12:00 web   C 11-06 12:00 web
           (first chat overall on 10-20: not new on 11-03; first web chat on 11-03)

Outcomes: 2025-11-20 (local), web unless noted.
  O1 u_click   um, answer, click, csat 2                    last turn a click       -> abandoned
  O2 u_fbop    um, fallback, operator message (whatsapp)    an operator message     -> escalated
  O3 u_fb1st   um, fallback, um, answer                     latest answer fine      -> resolved
  O4 u_fblast  um, answer, um, fallback                     latest answer fallback  -> abandoned
  O5 u_tie1    um o5-1, answer o5-2 and um o5-3 at the same instant: o5-3 is later -> abandoned
  O6 u_tie2    um o6-1, um o6-2 and answer o6-3 at the same instant: o6-3 is later,
               then a csat 4 (not a turn); whatsapp                              -> resolved
  O7 u_hand    um, answer, handover_request, answer         a request           -> escalated
  In O5 and O6 the tied events are written in the file in the opposite order, so that file order
  would give the other outcome; the two are in different channels, so that a channel filter tells
  them apart (swapped outcomes would leave the all-channel counts unchanged).
"""

from __future__ import annotations

import pytest
from conftest import Workspace, event, write_export
from conftest import bot_message as bm
from conftest import user_message as um

pytestmark = pytest.mark.slow  # every test here works on a refreshed warehouse

INITECH = "initech-help"
EXPORT_DAY = "2025-12-05"  # in the past: a refresh refuses export days after tomorrow (the partitions end there)


def jst(date: str, hms: str) -> str:
    """An instant written with Tokyo's offset: reads as local time on `date` (MM-DD, 2025)."""
    return f"2025-{date}T{hms}+09:00"


def who(user, conversation, channel="web"):
    return {"assistant": INITECH, "user": user, "conversation": conversation, "channel": channel}


def chat(prefix, user, date, hms, channel="web"):
    """A chat of one user_message and an answer 10 s later."""
    w = who(user, prefix, channel)
    h, m, s = (int(x) for x in hms.split(":"))
    return [um(f"{prefix}-1", jst(date, hms), w), bm(f"{prefix}-2", jst(date, f"{h:02d}:{m:02d}:{s + 10:02d}"), w)]


def retention_events() -> list:
    return [
        *chat("rs-a", "r_same", "11-03", "00:30:00"), *chat("rs-b", "r_same", "11-03", "23:00:00"),
        *chat("rn-a", "r_next", "11-03", "23:30:00"), *chat("rn-b", "r_next", "11-04", "00:10:00"),
        *chat("r7-a", "r_7", "11-03", "10:00:00"), *chat("r7-b", "r_7", "11-10", "23:50:00"),
        *chat("r8-a", "r_8", "11-03", "10:00:00"), *chat("r8-b", "r_8", "11-11", "00:10:00"),
        *chat("r30-a", "r_30", "11-03", "12:00:00"), *chat("r30-b", "r_30", "12-03", "23:30:00"),
        *chat("r31-a", "r_31", "11-03", "12:00:00"), *chat("r31-b", "r_31", "12-04", "00:30:00"),
        *chat("rc-a", "r_chan", "11-03", "12:00:00"), *chat("rc-b", "r_chan", "11-05", "12:00:00", "whatsapp"),
        *chat("ro-a", "r_old", "10-20", "12:00:00", "whatsapp"), *chat("ro-b", "r_old", "11-03", "12:00:00"),
        *chat("ro-c", "r_old", "11-06", "12:00:00"),
    ]


def outcome_events() -> list:
    d = "11-20"
    o1, o2, o3, o4 = who("u_click", "o1"), who("u_fbop", "o2", "whatsapp"), who("u_fb1st", "o3"), who("u_fblast", "o4")
    o5, o6, o7 = who("u_tie1", "o5"), who("u_tie2", "o6", "whatsapp"), who("u_hand", "o7")
    return [
        um("o1-1", jst(d, "10:00:00"), o1), bm("o1-2", jst(d, "10:00:05"), o1),
        event("o1-3", "click", jst(d, "10:00:10"), click_type="link", title="Docs", destination_type="url",
              destination="https://initech.example/docs", **o1),
        event("o1-4", "csat", jst(d, "10:00:20"), score=2, **o1),
        um("o2-1", jst(d, "10:00:00"), o2), bm("o2-2", jst(d, "10:00:05"), o2, is_fallback=True),
        event("o2-3", "operator_message", jst(d, "10:00:30"), message_id="o2-3", **o2),
        um("o3-1", jst(d, "10:00:00"), o3), bm("o3-2", jst(d, "10:00:05"), o3, is_fallback=True),
        um("o3-3", jst(d, "10:00:10"), o3), bm("o3-4", jst(d, "10:00:15"), o3),
        um("o4-1", jst(d, "10:00:00"), o4), bm("o4-2", jst(d, "10:00:05"), o4),
        um("o4-3", jst(d, "10:00:10"), o4), bm("o4-4", jst(d, "10:00:15"), o4, is_fallback=True),
        # ties: written in the opposite order of (occurred_at, event_id)
        um("o5-1", jst(d, "10:00:00"), o5), um("o5-3", jst(d, "10:00:05"), o5), bm("o5-2", jst(d, "10:00:05"), o5),
        um("o6-1", jst(d, "10:00:00"), o6), bm("o6-3", jst(d, "10:00:05"), o6), um("o6-2", jst(d, "10:00:05"), o6),
        event("o6-4", "csat", jst(d, "10:00:20"), score=4, **o6),
        um("o7-1", jst(d, "10:00:00"), o7), bm("o7-2", jst(d, "10:00:05"), o7),
        event("o7-3", "handover_request", jst(d, "10:00:10"), via="message", mode="ticket", **o7),
        bm("o7-4", jst(d, "10:00:15"), o7),
    ]


@pytest.fixture(scope="module")
def ws(module_workspace: Workspace) -> Workspace:
    write_export(module_workspace.exports, EXPORT_DAY, "part-0000.jsonl", retention_events() + outcome_events())
    module_workspace.cli("refresh", "--all")
    return module_workspace


@pytest.fixture(scope="module")
def report(ws: Workspace):
    cache: dict = {}

    def get(date_from: str, date_to: str | None = None, channel: str | None = None) -> dict:
        key = (f"2025-{date_from}", f"2025-{date_to or date_from}", channel)
        if key not in cache:
            cache[key] = ws.report(INITECH, key[0], key[1], channel=channel)
        return cache[key]

    return get


def outcomes(resolved, abandoned, escalated, containment, resolution, abandonment, escalation):
    return {"resolved": resolved, "abandoned": abandoned, "escalated": escalated,
            "containment_rate": containment, "resolution_rate": resolution,
            "abandonment_rate": abandonment, "escalation_rate": escalation}


def answers(n, fallbacks, rate, chats_with_fallback):
    return {"answers": n, "fallbacks": fallbacks, "fallback_rate": rate, "chats_with_fallback": chats_with_fallback}


def retention(cohort, returned_7d, returned_30d, rate_7d, rate_30d):
    return {"cohort": cohort, "returned_7d": returned_7d, "returned_30d": returned_30d,
            "rate_7d": rate_7d, "rate_30d": rate_30d}


def day(date, users=0, new_users=0, chats=0, user_messages=0, handover_requests=0, escalated_chats=0,
        fallbacks=0, csat_votes=0, csat_score=None):
    return {"date": f"2025-{date}", "users": users, "new_users": new_users, "chats": chats,
            "user_messages": user_messages, "handover_requests": handover_requests,
            "escalated_chats": escalated_chats, "fallbacks": fallbacks, "csat_votes": csat_votes,
            "csat_score": csat_score}


MODULES = ("users", "messages", "chats", "handover", "engagement", "feedback", "csat", "traffic", "clicks",
           "agents", "outcomes", "answers", "retention")


# ----------------------------------------------------------------------------- shape

def test_report_has_the_new_keys_in_the_shape_of_interfaces_md(report):
    r = report("11-20")
    assert list(r)[-5:] == ["outcomes", "answers", "retention", "daily", "previous"]
    assert set(r["outcomes"]) == {"resolved", "abandoned", "escalated", "containment_rate", "resolution_rate",
                                  "abandonment_rate", "escalation_rate"}
    assert set(r["answers"]) == {"answers", "fallbacks", "fallback_rate", "chats_with_fallback"}
    assert set(r["retention"]) == {"cohort", "returned_7d", "returned_30d", "rate_7d", "rate_30d"}
    assert isinstance(r["daily"], list)
    # previous: from, to and every module of the report except daily (and its own previous)
    assert set(r["previous"]) == {"from", "to", *MODULES}
    for module in MODULES:
        assert set(r["previous"][module]) == set(r[module]), module


def test_table_format_shows_the_new_sections(ws):
    out = ws.cli("report", "--assistant", INITECH, "--from", "2025-11-20", "--to", "2025-11-20",
                 "--format", "table").stdout
    for heading in ("Outcomes", "Answers", "Retention of new users", "Daily",
                    "Previous period 2025-11-19 to 2025-11-19"):
        assert heading in out, heading
    assert "2025-11-20" in out


# ----------------------------------------------------------------------------- outcomes and answers

def test_outcomes_and_answers(report):
    r = report("11-20")
    # 7 chats: resolved O3 O6 = 2; abandoned O1 (click) O4 (latest answer a fallback) O5 (tie won
    # by the user's message) = 3; escalated O2 (operator message after a fallback) O7 (request) = 2.
    # containment (2 + 3) / 7 = 0.7142857 -> 0.714286; 2 / 7 = 0.2857142 -> 0.285714;
    # 3 / 7 = 0.4285714 -> 0.428571
    assert r["chats"]["total"] == 7
    assert r["outcomes"] == outcomes(2, 3, 2, 0.714286, 0.285714, 0.428571, 0.285714)
    # answers O1 1, O2 1, O3 2, O4 2, O5 1, O6 1, O7 2 = 10; fallbacks o2-2, o3-2, o4-4 = 3 in 3 chats
    assert r["answers"] == answers(10, 3, 0.3, 3)


def test_outcomes_and_answers_with_a_channel_filter(report):
    # web only: O2 and O6 (whatsapp) go. 5 chats: resolved O3, abandoned O1 O4 O5 (the tie),
    # escalated O7. 4 / 5 = 0.8; 1 / 5 = 0.2; 3 / 5 = 0.6; 1 / 5 = 0.2
    r = report("11-20", channel="web")
    assert r["outcomes"] == outcomes(1, 3, 1, 0.8, 0.2, 0.6, 0.2)
    # answers O1 1 + O3 2 + O4 2 + O5 1 + O7 2 = 8; fallbacks o3-2, o4-4 = 2; 2 / 8 = 0.25
    assert r["answers"] == answers(8, 2, 0.25, 2)
    # whatsapp only: O2 escalated, O6 resolved (the tie won by the answer); 1 / 2 = 0.5
    r = report("11-20", channel="whatsapp")
    assert r["outcomes"] == outcomes(1, 0, 1, 0.5, 0.5, 0.0, 0.5)
    # answers o2-2 (a fallback) and o6-3
    assert r["answers"] == answers(2, 1, 0.5, 1)


def test_outcomes_of_a_period_without_chats_are_zero_with_null_rates(report):
    r = report("11-21")
    assert r["outcomes"] == outcomes(0, 0, 0, None, None, None, None)
    assert r["answers"] == answers(0, 0, None, 0)


# ----------------------------------------------------------------------------- retention

def test_retention_of_a_cohort_in_a_time_zone_far_from_utc(report):
    # cohort of 11-03: r_same r_next r_7 r_8 r_30 r_31 r_chan = 7 (r_old's first chat is 10-20).
    # 7d: r_next (1 day), r_7 (7), r_chan (2, whatsapp) = 3; r_same's second chat is on the same
    #     local date; r_8 is 8 local days (7 UTC days).
    # 30d: those 3 + r_8 + r_30 = 5; r_31 is 31 local days (30 UTC days).
    # 3 / 7 = 0.4285714 -> 0.428571; 5 / 7 = 0.7142857 -> 0.714286
    assert report("11-03")["retention"] == retention(7, 3, 5, 0.428571, 0.714286)
    # the returns that fall after `to` count: the same cohort over 11-03..11-04 (no new user on 11-04)
    assert report("11-03", "11-04")["retention"] == retention(7, 3, 5, 0.428571, 0.714286)
    # r_old's cohort is 10-20: next chat 11-03 = 14 days -> 30d only
    assert report("10-20")["retention"] == retention(1, 0, 1, 0.0, 1.0)
    # a period with users but no new user: cohort 0, null rates (11-05: r_chan; 11-06: r_old)
    assert report("11-05", "11-06")["retention"] == retention(0, 0, 0, None, None)


def test_retention_with_a_channel_filter(report):
    # web: the cohort is the users whose first *web* chat is on 11-03: the 7 above + r_old = 8.
    # Returns must be web chats: 7d r_next, r_7, r_old (11-06, 3 days) = 3 (r_chan returned on
    # whatsapp only); 30d + r_8, r_30 = 5. 3 / 8 = 0.375; 5 / 8 = 0.625
    assert report("11-03", channel="web")["retention"] == retention(8, 3, 5, 0.375, 0.625)
    # whatsapp: nobody's first whatsapp chat is on 11-03; r_chan's is on 11-05, with no later one
    assert report("11-03", channel="whatsapp")["retention"] == retention(0, 0, 0, None, None)
    assert report("11-05", channel="whatsapp")["retention"] == retention(1, 0, 0, 0.0, 0.0)


# ----------------------------------------------------------------------------- daily series

def test_daily_series_has_every_date_with_zeros(report):
    r = report("11-03", "11-06")
    assert r["daily"] == [
        # 11-03: users r_same r_next r_7 r_8 r_30 r_31 r_chan r_old = 8, new 7 (not r_old);
        # chats: r_same 2 + 7 others = 9, one user message each
        day("11-03", users=8, new_users=7, chats=9, user_messages=9),
        # 11-04: r_next's return; 11-05: r_chan on whatsapp; 11-06: r_old
        day("11-04", users=1, chats=1, user_messages=1),
        day("11-05", users=1, chats=1, user_messages=1),
        day("11-06", users=1, chats=1, user_messages=1),
    ]
    # the daily users are not summed into the period's users: 8 (r_next on two dates counts once)
    assert r["users"]["total"] == 8


def test_daily_series_with_a_channel_filter(report):
    r = report("11-03", "11-06", channel="whatsapp")
    # only r_chan's whatsapp chat (11-05), the first in that channel: new there
    assert r["daily"] == [day("11-03"), day("11-04"), day("11-05", users=1, new_users=1, chats=1, user_messages=1),
                          day("11-06")]


def test_daily_series_of_the_outcome_day(report):
    # 11-20: 7 users, all new, 7 chats; user messages O1 1 O2 1 O3 2 O4 2 O5 2 O6 2 O7 1 = 11;
    # 1 request (O7), escalated O2 O7, fallbacks 3; votes O1 2 and O6 4, mean 3
    assert report("11-20")["daily"] == [day("11-20", users=7, new_users=7, chats=7, user_messages=11,
                                            handover_requests=1, escalated_chats=2, fallbacks=3,
                                            csat_votes=2, csat_score=3.0)]


# ----------------------------------------------------------------------------- previous period

def test_previous_period_with_no_data_at_all(report):
    # 11-03's previous period is 11-02. r_same's first chat is on 11-02 in UTC (15:30Z) but on
    # 11-03 in Tokyo: the previous day has nothing.
    assert report("11-03")["previous"] == {
        "from": "2025-11-02", "to": "2025-11-02",
        "users": {"total": 0, "new": 0, "returning": 0, "by_device": []},
        "messages": {"user_messages": 0, "per_user": None, "per_chat": None},
        "chats": {"total": 0, "avg_duration_seconds": None, "per_user": None},
        "handover": {"requests": 0, "rate": None, "chats_with_requests": 0, "chats_without_requests": 0,
                     "by_trigger": {"direct": 0, "after_fallback": 0, "operator_button": 0},
                     "by_mode": {"human_takeover": 0, "ticket": 0}},
        "engagement": {"new_users": 0, "returning_users": 0, "returning_rate": None},
        "feedback": {"reviewable": 0, "positive": 0, "negative": 0, "no_feedback": 0,
                     "chats_by_class": {"only_positive": 0, "more_positive": 0, "balanced": 0,
                                        "more_negative": 0, "only_negative": 0, "no_feedback": 0}},
        "csat": {"votes": 0, "score": None, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}},
        "traffic": {"cells": [{"weekday": w, "hour": h, "messages": 0} for w in range(1, 8) for h in range(24)]},
        "clicks": {"rows": []},
        "agents": {"rows": []},
        "outcomes": outcomes(0, 0, 0, None, None, None, None),
        "answers": answers(0, 0, None, 0),
        "retention": retention(0, 0, 0, None, None),
    }


def test_previous_period_of_several_days(report):
    # 11-05..11-06 (2 days): previous is 11-03..11-04.
    r = report("11-05", "11-06")
    p = r["previous"]
    assert (p["from"], p["to"]) == ("2025-11-03", "2025-11-04")
    # 11-03..11-04: users 8 (r_next on both days once), new 7, returning r_old; chats 9 + 1 = 10,
    # all resolved (each ends with an answer), 10 answers, no fallback; cohort as on 11-03 alone.
    assert (p["users"]["total"], p["users"]["new"], p["users"]["returning"]) == (8, 7, 1)
    assert p["chats"]["total"] == 10
    assert p["outcomes"] == outcomes(10, 0, 0, 1.0, 1.0, 0.0, 0.0)
    assert p["answers"] == answers(10, 0, 0.0, 0)
    assert p["retention"] == retention(7, 3, 5, 0.428571, 0.714286)
    # Monday 11-03 local hours 0, 10, 12, 23 and Tuesday 11-04 hour 0 (two messages a chat):
    # 00:30 r_same; 10:00 r_7, r_8; 12:00 r_30, r_31, r_chan, r_old; 23:00 r_same, 23:30 r_next;
    # 11-04 00:10 r_next
    busy = {(c["weekday"], c["hour"]): c["messages"] for c in p["traffic"]["cells"] if c["messages"]}
    assert busy == {(1, 0): 2, (1, 10): 4, (1, 12): 8, (1, 23): 4, (2, 0): 2}
    # the current period itself: r_chan (11-05, whatsapp) and r_old (11-06), both returning
    assert (r["users"]["total"], r["users"]["new"], r["users"]["returning"]) == (2, 0, 2)
    # the previous period is the report of those days, every module but daily
    own = report("11-03", "11-04")
    assert p == {"from": own["from"], "to": own["to"], **{m: own[m] for m in MODULES}}
