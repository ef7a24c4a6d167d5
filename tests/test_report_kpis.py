"""End-to-end KPI tests: hand-made exports -> `refresh --all` -> `report --format json`.

Every expected number below was worked out by hand from /work/shared/spec/kpis.md (and the
report shape of interfaces.md); the comments show the arithmetic. Nothing here calls the code
under test to compute an expected value.

One workspace is built once for the whole module (a refresh runs dbt and costs seconds), from
a single rich scenario. Its pieces use distinct users and conversations so that each piece can
be followed on its own (the last tests break rows of a copy of its build file as model bugs would,
tests/kpi_test_breaks.py, and check that each dbt test they break fails on them):

acme-support (Europe/Rome; November is +01:00, so every `at(23, "09:00:00")` reads as local time)

  2026-11-23 (Monday, weekday 1) -- the main day
    A  u_gap30   web      gap of exactly 30 min does not split             1 chat   3610 s
    B  u_gap31   web      gap of 30 min 1 s splits                         2 chats  20 s, 30 s
    C  u_voice   voice    2 h gap, voice never splits                      1 chat   7220 s
    D  u_tg      telegram unknown channel: 30 min default                  2 chats  1800 s, 0 s
    E  u_fbgap   web      feedback neither extends nor bridges a gap       2 chats  60 s, 0 s
    F  u_greet   web      greeted-only session: NOT a chat, nothing counts
    G  u_click   web      a session with only a click IS a chat            1 chat   0 s
    H  u_tie     web      handover triggers, occurred_at ties              2 chats  180 s, 60 s
    J  u_csat    whatsapp csat voted 3 times, 2 at once; handover after fallback 1 chat 360 s
    K  u_csat2   web      csat; a duplicate and a rejected csat            1 chat   60 s
    L1-L5 u_fb   web      feedback: final ratings, all chat classes        5 chats  50,30,30,10,10 s
    M  u_agent   web      agents/workflows                                 1 chat   90 s
    N  u_dev     web      device from the earliest known-type event with UA 1 chat  20 s
    O2 u_ret     web      returning user (first chat O1 on 11-22)          1 chat   30 s
    P2 u_greet2  web      new user (11-22 was greeted only, not a chat)    1 chat   0 s
    Q2 u_multi   web      first chat overall on whatsapp (Q1, 11-22)       1 chat   10 s
    S  u_late23  web      starts 23:50 on 11-23, ends 00:10 on 11-24       1 chat   1200 s
    T  u_utcprev web      starts 2026-11-22T23:30Z = 00:30 local on 11-23  1 chat   40 s
  2026-11-22 (Sunday, weekday 7): O1 (u_ret), P1 (u_greet2, greeted only), Q1 (u_multi,
    whatsapp), R (u_late22, 23:50 -> 00:10 across local midnight)
  2026-11-24 (Tuesday, weekday 2): L2b (u_fb; carries a late rating of an 11-23 answer and
    renames agent `billing`)
  2026-10-24..26: DST change (Rome leaves +02:00 for +01:00 at 2026-10-25T01:00Z)

globex-sales (America/New_York), initech-help (Asia/Tokyo), umbrella-bot (not in the seed: UTC)
each hold one chat close to a local midnight.

Totals of acme-support on 2026-11-23 (no channel filter):
  active users 17: gap30 gap31 voice tg fbgap click tie csat csat2 fb agent dev ret greet2
                   multi late23 utcprev   (u_greet is not active, u_late22's chat is on 11-22)
  returning 2 (u_ret, u_multi) -> new 15
  chats 25 = A1 B2 C1 D2 E2 G1 H2 J1 K1 L5 M1 N1 O2 P2 Q2 S1 T1
  user messages 30 = A2 B2 C2 D3 E2 G0 H3 J1 K1 L5 M2 N2 O2:1 P2:1 Q2:1 S1 T1
  durations sum 14920 s = 3610+20+30+7220+1800+0+60+0+0+180+60+360+60
                          +50+30+30+10+10+90+20+30+0+10+1200+40
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, Workspace, copy_warehouse, event, slow_fixture, write_export
from conftest import bot_message as bm
from conftest import user_message as um
from kpi_test_breaks import BREAKS, GENERIC_PROVEN, MORE_SESSIONS_BREAKS, PROVEN_ELSEWHERE, SESSIONS_TEST, WARN_ONLY
from test_test_scope import dbt_test_by_hand

from orchestration.settings import build_path_for

ACME, GLOBEX, INITECH, UMBRELLA = "acme-support", "globex-sales", "initech-help", "umbrella-bot"
PIPES = "pipes-bot"  # not in the seed (UTC): ids that hold the separator of a naive derived id

# User agents and what uap-core (ua-parser) makes of them.
CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")                                # desktop / Chrome
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.1 Mobile/15E148 Safari/604.1")                           # mobile / Mobile Safari
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1")                             # tablet / Mobile Safari
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36")                            # tablet (no "Mobile") / Chrome
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/120.0.0.0 Mobile Safari/537.36")                      # mobile / Chrome Mobile
# desktop / Firefox
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
UNKNOWN_UA = "xyzzy"                                                           # desktop / Other
UNKNOWN_MOBILE_UA = "HelloWorld/1.0 Mobile"                                    # mobile (has "Mobile") / Other


# ----------------------------------------------------------------------------- event shorthands

def at(day: int, hms: str) -> str:
    """An instant in November 2026 written with Rome's winter offset, so it reads as Rome local time."""
    return f"2026-11-{day:02d}T{hms}+01:00"


def op(eid, when, **kw):
    return event(eid, "operator_message", when, message_id=eid, **kw)


def hr(eid, when, via, mode, **kw):
    return event(eid, "handover_request", when, via=via, mode=mode, **kw)


def fb(eid, when, message_id, value, **kw):
    return event(eid, "feedback", when, message_id=message_id, value=value, **kw)


def vote(eid, when, score, **kw):
    return event(eid, "csat", when, score=score, **kw)


def click(eid, when, click_type, title, destination_type, destination, **kw):
    return event(eid, "click", when, click_type=click_type, title=title,
                 destination_type=destination_type, destination=destination, **kw)


def trig(eid, when, agent_id, kind, name=None, **kw):
    props = {"agent_id": agent_id, "agent_kind": kind}
    if name is not None:
        props["agent_name"] = name
    return event(eid, "agent_triggered", when, **props, **kw)


def who(user, conversation, channel="web", assistant=ACME):
    return {"user": user, "conversation": conversation, "channel": channel, "assistant": assistant}


TALK = ("quick_reply", "Talk to an operator", "answer", "handover")
BILLING = ("quick_reply", "Billing", "answer", "billing")
PRICING = ("link", "Pricing", "url", "https://acme.example/pricing")
PRICING_EU = ("link", "Pricing", "url", "https://acme.example/pricing-eu")
CALL_US = ("link", "Call us", "phone", "+390612345")


# ----------------------------------------------------------------------------- the scenario

def day_2026_11_22() -> list:
    o1, p1, q1, r = who("u_ret", "c-o1"), who("u_greet2", "c-p1"), who("u_multi", "wa-q", "whatsapp"), \
        who("u_late22", "c-r")
    t = who("u_utcprev", "c-t")
    return [
        # O1: u_ret's first chat, 15:00:00 -> 15:00:10 = 10 s. Names agent `billing` first (old name).
        um("o1-01", at(22, "15:00:00"), **o1, user_agent=CHROME_WIN),
        trig("o1-02", at(22, "15:00:05"), "billing", "workflow", "Billing v1", **o1),
        click("o1-c1", at(22, "15:00:07"), *PRICING, **o1),
        bm("o1-03", at(22, "15:00:10"), **o1),
        # P1: u_greet2 only greeted (no user_message, no click): not a chat.
        bm("p1-01", at(22, "16:00:00"), **p1),
        # Q1: u_multi's first chat overall, on whatsapp (no user agent), 10 s.
        um("q1-01", at(22, "17:00:00"), **q1),
        bm("q1-02", at(22, "17:00:10"), **q1),
        # R: starts 23:50 local on 11-22 (Sunday), ends 00:10 local on 11-23 (Monday), 1200 s.
        um("r-01", at(22, "23:50:00"), **r, user_agent=CHROME_WIN),
        bm("r-02", at(23, "00:10:00"), **r),
        # T: 2026-11-22T23:30Z is 00:30 local on 11-23: a Monday chat, 40 s.
        um("t-01", "2026-11-22T23:30:00Z", **t, user_agent=CHROME_WIN),
        bm("t-02", "2026-11-22T23:30:40Z", **t),
    ]


def day_2026_11_23() -> list:
    a, b, c = who("u_gap30", "c-a"), who("u_gap31", "c-b"), who("u_voice", "call-c", "voice")
    d, e, f = who("u_tg", "t-d", "telegram"), who("u_fbgap", "c-e"), who("u_greet", "c-f")
    g, h, j, k = who("u_click", "c-g"), who("u_tie", "c-h"), who("u_csat", "wa-j", "whatsapp"), who("u_csat2", "c-k")
    l1, l2, l3 = who("u_fb", "c-l1"), who("u_fb", "c-l2"), who("u_fb", "c-l3")
    l4, l5 = who("u_fb", "c-l4"), who("u_fb", "c-l5")
    m, n = who("u_agent", "c-m"), who("u_dev", "c-n")
    o2, p2, q2, s = who("u_ret", "c-o2"), who("u_greet2", "c-p2"), who("u_multi", "c-q2"), who("u_late23", "c-s")
    return [
        # A: 09:00:00 -> 09:30:00 -> 10:00:00 gaps of exactly 30 min: one chat 09:00:00-10:00:10 = 3610 s.
        um("a-1", at(23, "09:00:00"), **a, user_agent=CHROME_WIN),
        bm("a-2", at(23, "09:30:00"), **a),
        um("a-3", at(23, "10:00:00"), **a),
        bm("a-4", at(23, "10:00:10"), **a),
        # B: b-2 09:00:20 -> b-3 09:30:21 is 30 min 1 s: two chats, 20 s and 30 s.
        um("b-1", at(23, "09:00:00"), **b, user_agent=IPHONE),
        bm("b-2", at(23, "09:00:20"), **b),
        um("b-3", at(23, "09:30:21"), **b),
        bm("b-4", at(23, "09:30:51"), **b),
        # C: a call with a 2 h silence is one chat: 09:00:00-11:00:20 = 7220 s.
        um("c-1", at(23, "09:00:00"), **c),
        bm("c-2", at(23, "09:00:10"), **c),
        um("c-3", at(23, "11:00:10"), **c),
        bm("c-4", at(23, "11:00:20"), **c),
        # D: telegram (not in the seed) times out after 30 min: 09:00-09:30 exactly = one chat of
        # 1800 s, then 10:00:01 (30 min 1 s later) a second chat of 0 s.
        um("d-1", at(23, "09:00:00"), **d),
        um("d-2", at(23, "09:30:00"), **d),
        um("d-3", at(23, "10:00:01"), **d),
        # E: the feedback at 09:20 is ignored by sessionization: E1 = 09:00:00-09:01:00 = 60 s (not
        # 20 min), and e-4 (44 min after e-2, 25 min after the feedback) starts E2 (0 s).
        um("e-1", at(23, "09:00:00"), **e, user_agent=ANDROID_TABLET),
        bm("e-2", at(23, "09:01:00"), **e, reviewable=True),
        fb("e-3", at(23, "09:20:00"), "e-2", "positive", **e),
        um("e-4", at(23, "09:45:00"), **e),
        # F: greeted only -> not a chat; its answer, agent, handover, operator message, csat and
        # feedback count nowhere, and u_greet is not an active user.
        bm("f-1", at(23, "09:00:00"), **f, user_agent=FIREFOX_MAC, reviewable=True,
           agent_id="ag-greet", agent_name="Greeter", agent_kind="agent"),
        trig("f-2", at(23, "09:00:01"), "ag-greet", "agent", "Greeter", **f),
        hr("f-3", at(23, "09:00:30"), "button", "ticket", **f),
        op("f-4", at(23, "09:01:00"), **f),
        vote("f-5", at(23, "09:02:00"), 1, **f),
        fb("f-6", at(23, "09:03:00"), "f-1", "negative", **f),
        # G: only a click: a chat of 0 s with 0 user messages.
        click("g-1", at(23, "09:00:00"), *TALK, **g, user_agent=ANDROID_PHONE),
        # H1 (09:00:00-09:03:00 = 180 s) and H2 (09:40:00-09:41:00 = 60 s, 37 min after h-10).
        um("h-01", at(23, "09:00:00"), **h, user_agent=CHROME_WIN),
        bm("h-02", at(23, "09:00:05"), **h),
        bm("h-03", at(23, "09:00:10"), **h, is_fallback=True),
        # same instant as h-03; h-03 < h-04 so the fallback answer comes first -> after_fallback
        hr("h-04", at(23, "09:00:10"), "message", "human_takeover", **h),
        click("h-c1", at(23, "09:00:30"), *TALK, **h),
        click("h-c2", at(23, "09:00:40"), *PRICING, **h),
        um("h-05", at(23, "09:01:00"), **h),
        bm("h-06", at(23, "09:01:05"), **h),
        # same instant as h-08 (a fallback); h-07 < h-08 so the latest answer before is h-06 -> direct
        hr("h-07", at(23, "09:01:10"), "message", "ticket", **h),
        bm("h-08", at(23, "09:01:10"), **h, is_fallback=True),
        # the latest answer before is a fallback, but via button -> operator_button
        hr("h-09", at(23, "09:02:00"), "button", "human_takeover", **h),
        bm("h-10", at(23, "09:03:00"), **h, is_fallback=True),
        um("h-11", at(23, "09:40:00"), **h),
        # no bot_message before it in H2 (h-10 is in H1) -> direct
        hr("h-12", at(23, "09:40:05"), "message", "ticket", **h),
        op("h-13", at(23, "09:41:00"), **h),
        # J: whatsapp, 09:00:00-09:06:00 = 360 s (csat events count for sessions); votes 2, then 4
        # and 3 at one instant.
        um("j-1", at(23, "09:00:00"), **j),
        bm("j-2", at(23, "09:00:10"), **j, is_fallback=True),
        hr("j-h1", at(23, "09:00:15"), "message", "ticket", **j),          # after_fallback
        click("j-c1", at(23, "09:00:20"), *BILLING, **j),
        vote("j-3", at(23, "09:05:00"), 2, **j),
        vote("j-4", at(23, "09:06:00"), 4, **j),
        # a vote at j-4's instant: kpis.md orders by (occurred_at, event_id), so j-4 (4) is still the latest
        vote("j-0", at(23, "09:06:00"), 3, **j),
        # K: 09:00:00-09:01:00 = 60 s, votes 5 (the duplicate and the rejected line are in part-0001).
        um("k-1", at(23, "09:00:00"), **k, user_agent=IPAD),
        bm("k-2", at(23, "09:00:30"), **k),
        vote("k-3", at(23, "09:01:00"), 5, **k),
        # L1: 4 reviewable answers, final ratings +, + (changed from -), -, none; the rating of the
        # non-reviewable l1-06 counts nowhere. 10:00:00-10:00:50 = 50 s. -> more_positive (2 > 1)
        um("l1-01", at(23, "10:00:00"), **l1, user_agent=CHROME_WIN),
        bm("l1-02", at(23, "10:00:10"), **l1, reviewable=True),
        click("l1-c1", at(23, "10:00:15"), *PRICING, **l1),
        bm("l1-03", at(23, "10:00:20"), **l1, reviewable=True),
        click("l1-c2", at(23, "10:00:25"), *CALL_US, **l1),
        bm("l1-04", at(23, "10:00:30"), **l1, reviewable=True),
        bm("l1-05", at(23, "10:00:40"), **l1, reviewable=True),
        bm("l1-06", at(23, "10:00:50"), **l1),
        fb("l1-07", at(23, "10:01:00"), "l1-02", "positive", **l1),
        fb("l1-08", at(23, "10:01:05"), "l1-03", "negative", **l1),
        fb("l1-09", at(23, "10:01:10"), "l1-03", "positive", **l1),
        fb("l1-10", at(23, "10:01:15"), "l1-04", "negative", **l1),
        fb("l1-11", at(23, "10:01:20"), "l1-06", "negative", **l1),
        # L2: +, then - arriving on 11-24 in a later session (see day_2026_11_24), and a rating
        # retracted (null) -> none. 10:00:00-10:00:30 = 30 s. -> balanced (1 = 1)
        um("l2-01", at(23, "10:00:00"), **l2),
        bm("l2-02", at(23, "10:00:10"), **l2, reviewable=True),
        bm("l2-03", at(23, "10:00:20"), **l2, reviewable=True),
        bm("l2-04", at(23, "10:00:30"), **l2, reviewable=True),
        fb("l2-05", at(23, "10:01:00"), "l2-02", "positive", **l2),
        fb("l2-06", at(23, "10:01:10"), "l2-04", "positive", **l2),
        fb("l2-07", at(23, "10:02:00"), "l2-04", None, **l2),
        # L3: -, + (two ratings at the same instant: l3-07 > l3-06 wins), -. 30 s. -> more_negative
        um("l3-01", at(23, "10:00:00"), **l3),
        bm("l3-02", at(23, "10:00:10"), **l3, reviewable=True),
        click("l3-c1", at(23, "10:00:15"), *PRICING_EU, **l3),
        bm("l3-03", at(23, "10:00:20"), **l3, reviewable=True),
        bm("l3-04", at(23, "10:00:30"), **l3, reviewable=True),
        fb("l3-05", at(23, "10:01:00"), "l3-02", "negative", **l3),
        fb("l3-06", at(23, "10:01:00"), "l3-03", "negative", **l3),
        fb("l3-07", at(23, "10:01:00"), "l3-03", "positive", **l3),
        fb("l3-08", at(23, "10:01:10"), "l3-04", "negative", **l3),
        # L4: + changed to - (a later "maybe" is rejected, part-0001); orphan feedback. 10 s. -> only_negative
        um("l4-01", at(23, "10:00:00"), **l4),
        bm("l4-02", at(23, "10:00:10"), **l4, reviewable=True),
        fb("l4-03", at(23, "10:00:20"), "l4-02", "positive", **l4),
        fb("l4-04", at(23, "10:00:40"), "l4-02", "negative", **l4),
        fb("l9-01", at(23, "10:05:00"), "nope-404", "positive", **l4),
        # L5: the only rating is on a non-reviewable answer: counts nowhere. 10 s. -> no_feedback
        um("l5-01", at(23, "10:00:00"), **l5),
        bm("l5-02", at(23, "10:00:10"), **l5),
        fb("l5-03", at(23, "10:00:20"), "l5-02", "positive", **l5),
        # M: agents. 11:00:00-11:01:30 = 90 s. billing: 2 views, answers m-03 +, m-07 +;
        # account: 2 views, never named; faq: 0 views, answer m-09 -; silent: only a rating of a
        # non-reviewable answer -> no row. Final ratings of the chat 2+ / 1- -> more_positive.
        um("m-01", at(23, "11:00:00"), **m, user_agent=UNKNOWN_UA),
        trig("m-02", at(23, "11:00:05"), "billing", "agent", "Billing agent", **m),
        bm("m-03", at(23, "11:00:10"), **m, reviewable=True, agent_id="billing"),
        trig("m-04", at(23, "11:00:15"), "account", "workflow", **m),
        click("m-c1", at(23, "11:00:20"), *BILLING, **m),
        um("m-05", at(23, "11:01:00"), **m),
        trig("m-06", at(23, "11:01:05"), "billing", "agent", **m),
        bm("m-07", at(23, "11:01:10"), **m, reviewable=True, agent_id="billing"),
        trig("m-08", at(23, "11:01:15"), "account", "workflow", **m),
        bm("m-09", at(23, "11:01:20"), **m, reviewable=True, agent_id="faq", agent_name="FAQ flow",
           agent_kind="workflow"),
        bm("m-10", at(23, "11:01:30"), **m, agent_id="silent", agent_name="Silent", agent_kind="agent"),
        fb("m-11", at(23, "11:02:00"), "m-03", "positive", **m),
        fb("m-12", at(23, "11:02:05"), "m-07", "positive", **m),
        fb("m-13", at(23, "11:02:10"), "m-09", "negative", **m),
        fb("m-14", at(23, "11:02:15"), "m-10", "positive", **m),
        # N: an unknown event type (earlier, with an iPhone UA) is ignored by sessions and devices;
        # n-01 has no UA, so n-02's Firefox on macOS decides: desktop / Firefox. 11:00:00-11:00:20 = 20 s.
        event("n-00", "widget_opened", at(23, "10:50:00"), **n, user_agent=IPHONE),
        um("n-01", at(23, "11:00:00"), **n),
        bm("n-02", at(23, "11:00:05"), **n, user_agent=FIREFOX_MAC),
        um("n-03", at(23, "11:00:20"), **n, user_agent=ANDROID_PHONE),
        # O2: u_ret again (returning), 30 s.
        um("o2-01", at(23, "11:00:00"), **o2),
        bm("o2-02", at(23, "11:00:30"), **o2),
        # P2: u_greet2's first chat (P1 was not a chat) -> new. 0 s. mobile / Other.
        um("p2-01", at(23, "11:00:00"), **p2, user_agent=UNKNOWN_MOBILE_UA),
        # Q2: u_multi's first web chat; first chat overall was on whatsapp (Q1). 10 s. iPhone.
        um("q2-01", at(23, "12:00:00"), **q2, user_agent=IPHONE),
        bm("q2-02", at(23, "12:00:10"), **q2),
        # S: 23:50 on 11-23 -> 00:10 on 11-24: a chat of 11-23, 1200 s; s-02 is a Tuesday message.
        um("s-01", at(23, "23:50:00"), **s, user_agent=CHROME_WIN),
        bm("s-02", at(24, "00:10:00"), **s),
        # initech-help (Tokyo, +09:00): 15:30Z is 00:30 on 11-24 local.
        um("i-01", "2026-11-23T15:30:00Z", **who("u_jp", "i-1", assistant=INITECH)),
        # umbrella-bot is not in the seed: UTC, 23:30 on 11-23.
        um("x-01", "2026-11-23T23:30:00Z", **who("u_umb", "x-1", assistant=UMBRELLA)),
    ]


def day_2026_11_23_part1() -> list:
    k, l4 = who("u_csat2", "c-k"), who("u_fb", "c-l4")
    return [
        um("b-1", at(23, "09:00:00"), **who("u_gap31", "c-b"), user_agent=IPHONE),  # identical duplicate
        vote("k-3", at(23, "09:01:00"), 1, **k),       # duplicate with other content: first copy (5) wins
        "this line is not JSON",
        vote("k-5", at(23, "09:01:30"), 6, **k),       # rejected (score 6): would stretch K to 90 s
        fb("l4-05", at(23, "10:00:50"), "l4-02", "maybe", **l4),  # rejected value
    ]


def day_2026_11_24() -> list:
    l2 = who("u_fb", "c-l2")
    return [
        # L2b: a new session of conversation c-l2 on 11-24 (Tuesday): 10:00:00-10:00:10 = 10 s.
        um("l2-08", at(24, "10:00:00"), **l2),
        bm("l2-10", at(24, "10:00:10"), **l2, agent_id="billing", agent_name="Billing assistant",
           agent_kind="agent"),
        # the late rating of l2-03 (an 11-23 answer): it counts for chat L2, not for 11-24.
        fb("l2-09", at(24, "10:00:30"), "l2-03", "negative", **l2),
        # a copy of a-1 re-delivered a day later: counts once.
        um("a-1", at(23, "09:00:00"), **who("u_gap30", "c-a"), user_agent=CHROME_WIN),
        # globex-sales (New York, -05:00): 03:00Z on 11-24 is 22:00 on Monday 11-23. The user_id
        # u_ret is another user than acme's u_ret (a user is assistant + user_id): new, no UA -> web.
        um("g-01", "2026-11-24T03:00:00Z", **who("u_ret", "g-1", assistant=GLOBEX)),
        bm("g-02", "2026-11-24T03:00:30Z", **who("u_ret", "g-1", assistant=GLOBEX)),
    ]


def day_2026_11_24_pipes() -> list:
    """Two conversations of one user whose ids, joined by '|', read the same: (c, e1|e2) and (c|e1, e2)
    as (conversation, first event). Two chats, each with its own rating and vote."""
    one, two = who("u_p", "c", assistant=PIPES), who("u_p", "c|e1", assistant=PIPES)
    return [
        um("e1|e2", "2026-11-24T10:00:00Z", **one),
        bm("p-b1", "2026-11-24T10:00:01Z", **one, reviewable=True),
        vote("p-v1", "2026-11-24T10:00:02Z", 5, **one),
        fb("p-f1", "2026-11-24T10:00:03Z", "p-b1", "positive", **one),
        um("e2", "2026-11-24T10:00:00Z", **two),
        bm("p-b2", "2026-11-24T10:00:01Z", **two, reviewable=True),
        vote("p-v2", "2026-11-24T10:00:03Z", 1, **two),
        fb("p-f2", "2026-11-24T10:00:03Z", "p-b2", "negative", **two),
    ]


def days_dst() -> dict[str, list]:
    # Rome: +02:00 until 2026-10-25T01:00Z, then +01:00. Users without UA on web -> web / null.
    d1, d2, d3 = who("u_dst1", "c-dst1"), who("u_dst2", "c-dst2"), who("u_dst3", "c-dst3")
    d4, d5 = who("u_dst4", "c-dst4"), who("u_dst5", "c-dst5")
    return {
        "2026-10-24": [
            # 21:30Z = 23:30 (+02:00) on Saturday 10-24. 30 s.
            um("dst1-1", "2026-10-24T21:30:00Z", **d1),
            bm("dst1-2", "2026-10-24T21:30:30Z", **d1),
            # 22:30Z = 00:30 (+02:00) on Sunday 10-25. 60 s.
            um("dst2-1", "2026-10-24T22:30:00Z", **d2),
            bm("dst2-2", "2026-10-24T22:31:00Z", **d2),
        ],
        "2026-10-25": [
            # 00:30Z = 02:30 (+02:00), 00:50Z = 02:50, 01:10Z = 02:10 (+01:00), 01:30Z = 02:30:
            # all four in hour 2 of Sunday; the chat lasts 3600 s of real time.
            um("dst3-1", "2026-10-25T00:30:00Z", **d3),
            bm("dst3-2", "2026-10-25T00:50:00Z", **d3),
            um("dst3-3", "2026-10-25T01:10:00Z", **d3),
            bm("dst3-4", "2026-10-25T01:30:00Z", **d3),
            # 22:30Z = 23:30 (+01:00) on Sunday 10-25. 20 s.
            um("dst4-1", "2026-10-25T22:30:00Z", **d4),
            bm("dst4-2", "2026-10-25T22:30:20Z", **d4),
            # 23:30Z = 00:30 (+01:00) on Monday 10-26. 0 s.
            um("dst5-1", "2026-10-25T23:30:00Z", **d5),
        ],
    }


@pytest.fixture(scope="module")
@slow_fixture
def ws(module_workspace: Workspace) -> Workspace:
    exports = module_workspace.exports
    write_export(exports, "2026-11-22", "part-0000.jsonl", day_2026_11_22())
    write_export(exports, "2026-11-23", "part-0000.jsonl", day_2026_11_23())
    write_export(exports, "2026-11-23", "part-0001.jsonl.gz", day_2026_11_23_part1())
    write_export(exports, "2026-11-24", "part-0000.jsonl", day_2026_11_24())
    write_export(exports, "2026-11-24", "part-0001.jsonl", day_2026_11_24_pipes())
    for day, lines in days_dst().items():
        write_export(exports, day, "part-0000.jsonl", lines)
    module_workspace.cli("refresh", "--all")
    return module_workspace


@pytest.fixture(scope="module")
def report(ws: Workspace):
    cache: dict = {}

    def get(assistant: str, date_from: str, date_to: str | None = None, channel: str | None = None) -> dict:
        key = (assistant, date_from, date_to or date_from, channel)
        if key not in cache:
            cache[key] = ws.report(*key[:3], channel=channel)
        return cache[key]

    return get


# ----------------------------------------------------------------------------- expected-value helpers

def cells(nonzero: dict[tuple[int, int], int]) -> list[dict]:
    """All 168 traffic cells in (weekday, hour) order; the given ones non-zero, the rest 0."""
    return [{"weekday": w, "hour": hr_, "messages": nonzero.get((w, hr_), 0)}
            for w in range(1, 8) for hr_ in range(24)]


def dev(device_type, browser, users):
    return {"device_type": device_type, "browser": browser, "users": users}


def clicks(key, n):
    return dict(zip(("click_type", "title", "destination_type", "destination"), key), clicks=n)


def agent(agent_id, name, kind, views, positive, negative):
    return {"agent_id": agent_id, "name": name, "kind": kind, "views": views,
            "positive": positive, "negative": negative}


def triggers(direct, after_fallback, operator_button):
    return {"direct": direct, "after_fallback": after_fallback, "operator_button": operator_button}


def classes(only_positive, more_positive, balanced, more_negative, only_negative, no_feedback):
    return {"only_positive": only_positive, "more_positive": more_positive, "balanced": balanced,
            "more_negative": more_negative, "only_negative": only_negative, "no_feedback": no_feedback}


def distribution(*counts):
    return {str(score): n for score, n in zip(range(1, 6), counts)}


def approx(x):
    return pytest.approx(x, abs=1e-6)


NO_HANDOVER_TRIGGERS = triggers(0, 0, 0)
NO_MODES = {"human_takeover": 0, "ticket": 0}


# ----------------------------------------------------------------------------- shape

def test_report_has_exactly_the_keys_of_interfaces_md(report):
    r = report(ACME, "2026-11-23")
    assert set(r) == {"assistant_id", "timezone", "from", "to", "channel", "users", "messages", "chats",
                      "handover", "engagement", "feedback", "csat", "traffic", "clicks", "agents",
                      "outcomes", "answers", "retention", "daily", "previous"}
    assert (r["assistant_id"], r["timezone"], r["from"], r["to"], r["channel"]) == \
        (ACME, "Europe/Rome", "2026-11-23", "2026-11-23", None)
    assert set(r["users"]) == {"total", "new", "returning", "by_device"}
    assert r["users"]["by_device"] and all(set(x) == {"device_type", "browser", "users"}
                                           for x in r["users"]["by_device"])
    assert set(r["messages"]) == {"user_messages", "per_user", "per_chat"}
    assert set(r["chats"]) == {"total", "avg_duration_seconds", "per_user"}
    assert set(r["handover"]) == {"requests", "rate", "chats_with_requests", "chats_without_requests",
                                  "by_trigger", "by_mode"}
    assert set(r["handover"]["by_trigger"]) == {"direct", "after_fallback", "operator_button"}
    assert set(r["handover"]["by_mode"]) == {"human_takeover", "ticket"}
    assert set(r["engagement"]) == {"new_users", "returning_users", "returning_rate"}
    assert set(r["feedback"]) == {"reviewable", "positive", "negative", "no_feedback", "chats_by_class"}
    assert set(r["feedback"]["chats_by_class"]) == {"only_positive", "more_positive", "balanced",
                                                    "more_negative", "only_negative", "no_feedback"}
    assert set(r["csat"]) == {"votes", "score", "distribution"}
    assert set(r["csat"]["distribution"]) == {"1", "2", "3", "4", "5"}
    assert set(r["traffic"]) == {"cells"}
    assert len(r["traffic"]["cells"]) == 168
    assert all(set(x) == {"weekday", "hour", "messages"} for x in r["traffic"]["cells"])
    assert set(r["clicks"]) == {"rows"}
    assert r["clicks"]["rows"] and all(
        set(x) == {"click_type", "title", "destination_type", "destination", "clicks"} for x in r["clicks"]["rows"])
    assert set(r["agents"]) == {"rows"}
    assert r["agents"]["rows"] and all(
        set(x) == {"agent_id", "name", "kind", "views", "positive", "negative"} for x in r["agents"]["rows"])
    # numbers are JSON numbers, not strings
    assert isinstance(r["users"]["total"], int) and isinstance(r["messages"]["per_user"], float)


# ----------------------------------------------------------------------------- acme-support, 2026-11-23

def test_chats_sessionization_duration_per_user(report):
    # 25 chats (see the module docstring); durations sum to 14920 s -> 14920 / 25 = 596.8;
    # chats per active user 25 / 17 = 1.4705882... -> 1.470588
    assert report(ACME, "2026-11-23")["chats"] == {
        "total": 25, "avg_duration_seconds": approx(596.8), "per_user": 1.470588}


def test_sessionization_edges_one_channel_at_a_time(report):
    # voice: C alone, one chat of 7220 s despite a 2 h gap; 2 user messages.
    r = report(ACME, "2026-11-23", channel="voice")
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(7220), "per_user": 1.0}
    assert r["users"] == {"total": 1, "new": 1, "returning": 0, "by_device": [dev("voice", None, 1)]}
    assert r["messages"] == {"user_messages": 2, "per_user": 2.0, "per_chat": 2.0}
    assert r["traffic"]["cells"] == cells({(1, 9): 2, (1, 11): 2})
    # telegram (unknown channel, 30 min): D1 1800 s (exactly 30 min joins), D2 0 s (30 min 1 s
    # splits) -> 2 chats, mean 900 s; 3 user messages -> 3 per user, 1.5 per chat.
    r = report(ACME, "2026-11-23", channel="telegram")
    assert r["chats"] == {"total": 2, "avg_duration_seconds": approx(900), "per_user": 2.0}
    assert r["users"] == {"total": 1, "new": 1, "returning": 0, "by_device": [dev("telegram", None, 1)]}
    assert r["messages"] == {"user_messages": 3, "per_user": 3.0, "per_chat": 1.5}
    assert r["traffic"]["cells"] == cells({(1, 9): 2, (1, 10): 1})
    # whatsapp: J alone, 360 s; u_csat's first whatsapp chat -> new.
    r = report(ACME, "2026-11-23", channel="whatsapp")
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(360), "per_user": 1.0}
    assert r["users"] == {"total": 1, "new": 1, "returning": 0, "by_device": [dev("whatsapp", None, 1)]}


def test_users_new_returning_and_devices(report):
    # 17 active; u_ret (first chat 11-22) and u_multi (first chat 11-22 on whatsapp) return;
    # u_greet2 is new (its 11-22 session was greeted only); u_greet is not active.
    assert report(ACME, "2026-11-23")["users"] == {
        "total": 17, "new": 15, "returning": 2,
        "by_device": [
            # gap30, tie, fb, ret, late23, utcprev
            dev("desktop", "Chrome", 6),
            # gap31, multi (its earliest event with a UA is the web one)
            dev("mobile", "Mobile Safari", 2),
            dev("desktop", "Firefox", 1),        # dev: n-02 (the unknown-type iPhone event is ignored)
            dev("desktop", "Other", 1),          # agent: "xyzzy"
            dev("mobile", "Chrome Mobile", 1),   # click: Android phone
            dev("mobile", "Other", 1),           # greet2: unknown family, but "Mobile" in the string
            dev("tablet", "Chrome", 1),          # fbgap: Android without "Mobile"
            dev("tablet", "Mobile Safari", 1),   # csat2: iPad
            dev("telegram", None, 1),            # tg: no UA -> channel of the first chat
            dev("voice", None, 1),
            dev("whatsapp", None, 1),
        ],
    }


def test_messages(report):
    # 30 user messages (duplicates of a-1 and b-1 count once); 30 / 17 = 1.7647058... -> 1.764706;
    # 30 / 25 = 1.2
    assert report(ACME, "2026-11-23")["messages"] == {
        "user_messages": 30, "per_user": 1.764706, "per_chat": 1.2}


def test_handover(report):
    # requests in chats: h-04 after_fallback (tie, fallback first), h-07 direct (tie, fallback
    # after), h-09 operator_button, h-12 direct (fallback h-10 is in the previous chat),
    # j-h1 after_fallback; F's request is in a greeted-only session -> ignored.
    # users with a request: u_tie, u_csat -> 2 / 17 = 0.1176470... -> 0.117647
    # chats with requests: H1, H2, J -> 3; without: 25 - 3 = 22
    assert report(ACME, "2026-11-23")["handover"] == {
        "requests": 5, "rate": 0.117647, "chats_with_requests": 3, "chats_without_requests": 22,
        "by_trigger": triggers(direct=2, after_fallback=2, operator_button=1),
        "by_mode": {"human_takeover": 2, "ticket": 3},   # h-04, h-09 / h-07, h-12, j-h1
    }


def test_engagement(report):
    # new 15, returning 2 (u_ret, u_multi): 2 / 17 -> 0.117647
    assert report(ACME, "2026-11-23")["engagement"] == {
        "new_users": 15, "returning_users": 2, "returning_rate": 0.117647}


def test_feedback(report):
    # reviewable answers in chats: E1 1 + L1 4 + L2 3 + L3 3 + L4 1 + M 3 = 15 (f-1 is greeted only).
    # final ratings:
    #   + : e-2, l1-02, l1-03 (- then +), l2-02, l3-03 (tie -> l3-07 +), m-03, m-07   = 7
    #   - : l1-04, l2-03 (late, 11-24), l3-02, l3-04, l4-02 (+ then -), m-09          = 6
    #   none: l1-05 (never rated), l2-04 (+ then null)                               = 2
    # ignored: l1-06, l5-02, m-10 (not reviewable), nope-404 (orphan), f-1 (not in a chat),
    #          l4-05 "maybe" (rejected).
    # classes: E1 1+ -> only_positive; L1 2+/1- and M 2+/1- -> more_positive; L2 1+/1- ->
    #          balanced; L3 1+/2- -> more_negative; L4 1- -> only_negative; the other
    #          25 - 6 = 19 chats (L5 included) -> no_feedback
    assert report(ACME, "2026-11-23")["feedback"] == {
        "reviewable": 15, "positive": 7, "negative": 6, "no_feedback": 2,
        "chats_by_class": classes(1, 2, 1, 1, 1, 19),
    }


def test_csat(report):
    # J: votes 2, then 4 and 3 at one instant -> 4 (event_id j-4 after j-0); K: 5 (its duplicate
    # with 1 and the rejected 6 do not count);
    # F's 1 is in a greeted-only session. 2 votes, mean (4 + 5) / 2 = 4.5
    assert report(ACME, "2026-11-23")["csat"] == {
        "votes": 2, "score": 4.5, "distribution": distribution(0, 0, 0, 1, 1)}


def test_traffic(report):
    # Monday = weekday 1. Messages (user, bot, operator) of chats, by their own local hour:
    #   hour 0 : r-02 (chat R started on 11-22, the message is on 11-23) + t-01, t-02       = 3
    #   hour 9 : A 2 + B 4 + C 2 + D 2 + E 3 + H 9 (H1 7, H2 2 incl. operator) + J 2 + K 2 = 26
    #   hour 10: A 2 + D 1 + L1 6 + L2 4 + L3 4 + L4 2 + L5 2                                = 21
    #   hour 11: C 2 + M 6 + N 3 + O2 2 + P2 1                                               = 14
    #   hour 12: Q2 2;  hour 23: s-01 (s-02 is on 11-24, outside the period)
    # F's messages are not in a chat; clicks, csat, feedback, handover are not messages.
    cs = report(ACME, "2026-11-23")["traffic"]["cells"]
    assert [(c["weekday"], c["hour"]) for c in cs] == [(w, h) for w in range(1, 8) for h in range(24)]
    assert cs == cells({(1, 0): 3, (1, 9): 26, (1, 10): 21, (1, 11): 14, (1, 12): 2, (1, 23): 1})


def test_clicks(report):
    # PRICING h-c2 + l1-c1; BILLING m-c1 + j-c1; TALK g-1 + h-c1; CALL_US l1-c2; PRICING_EU l3-c1.
    # Ties on clicks sort by click_type, title, destination_type, destination. o1-c1 is on 11-22.
    assert report(ACME, "2026-11-23")["clicks"] == {"rows": [
        clicks(PRICING, 2), clicks(BILLING, 2), clicks(TALK, 2), clicks(CALL_US, 1), clicks(PRICING_EU, 1)]}


def test_agents(report):
    # account: 2 views (m-04, m-08), never named, kind workflow.
    # billing: 2 views (m-02, m-06), m-03 and m-07 rated +; latest name over all history is
    #          "Billing assistant" (l2-10, 11-24), latest kind agent.
    # faq: 0 views, m-09 rated -; named by its bot_message.
    # silent (rating on a non-reviewable answer) and ag-greet (greeted-only session): all zero, no row.
    # views desc, then agent_id: account (2) before billing (2), then faq (0).
    assert report(ACME, "2026-11-23")["agents"] == {"rows": [
        agent("account", None, "workflow", 2, 0, 0),
        agent("billing", "Billing assistant", "agent", 2, 2, 0),
        agent("faq", "FAQ flow", "workflow", 0, 0, 1),
    ]}


def test_web_channel_filter(report):
    # Only web chats exist: C (voice), D1 D2 (telegram), J (whatsapp) go.
    # chats 25 - 4 = 21; users 17 - 3 = 14 (voice, tg, csat go).
    # u_multi's first *web* chat is Q2 (11-23) -> new; u_ret returns (O1 was web) -> 13 new, 1 returning.
    # user messages 30 - C 2 - D 3 - J 1 = 24; durations 14920 - 7220 - 1800 - 0 - 360 = 5540.
    r = report(ACME, "2026-11-23", channel="web")
    assert r["channel"] == "web"
    assert r["users"] == {"total": 14, "new": 13, "returning": 1, "by_device": [
        dev("desktop", "Chrome", 6), dev("mobile", "Mobile Safari", 2), dev("desktop", "Firefox", 1),
        dev("desktop", "Other", 1), dev("mobile", "Chrome Mobile", 1), dev("mobile", "Other", 1),
        dev("tablet", "Chrome", 1), dev("tablet", "Mobile Safari", 1)]}
    # 24 / 14 = 1.7142857 -> 1.714286; 24 / 21 = 1.1428571 -> 1.142857
    assert r["messages"] == {"user_messages": 24, "per_user": 1.714286, "per_chat": 1.142857}
    # 5540 / 21 = 263.8095238...; 21 / 14 = 1.5
    assert r["chats"] == {"total": 21, "avg_duration_seconds": approx(5540 / 21), "per_user": 1.5}
    # H1 3 + H2 1 (j-h1 goes); users u_tie only: 1 / 14 = 0.0714285... -> 0.071429
    assert r["handover"] == {
        "requests": 4, "rate": 0.071429, "chats_with_requests": 2, "chats_without_requests": 19,
        "by_trigger": triggers(direct=2, after_fallback=1, operator_button=1),
        "by_mode": {"human_takeover": 2, "ticket": 2}}
    assert r["engagement"] == {"new_users": 13, "returning_users": 1, "returning_rate": 0.071429}
    # all rated chats are web: same as unfiltered, no_feedback class 21 - 6 = 15
    assert r["feedback"] == {"reviewable": 15, "positive": 7, "negative": 6, "no_feedback": 2,
                             "chats_by_class": classes(1, 2, 1, 1, 1, 15)}
    assert r["csat"] == {"votes": 1, "score": 5.0, "distribution": distribution(0, 0, 0, 0, 1)}
    # hour 9: 26 - C 2 - D 2 - J 2 = 20; hour 10: 21 - D 1 = 20; hour 11: 14 - C 2 = 12
    assert r["traffic"]["cells"] == cells({(1, 0): 3, (1, 9): 20, (1, 10): 20, (1, 11): 12, (1, 12): 2, (1, 23): 1})
    # j-c1 (whatsapp) goes: BILLING drops to 1
    assert r["clicks"]["rows"] == [clicks(PRICING, 2), clicks(TALK, 2), clicks(CALL_US, 1),
                                   clicks(PRICING_EU, 1), clicks(BILLING, 1)]
    assert r["agents"] == report(ACME, "2026-11-23")["agents"]


# ----------------------------------------------------------------------------- other periods

def test_previous_day_and_local_midnight(report):
    # 2026-11-22 (Sunday, 7): chats O1 (10 s), Q1 (10 s, whatsapp), R (1200 s, ends 00:10 on
    # 11-23); P1 is greeted only; T is 00:30 on 11-23 local although 23:30 on 11-22 UTC.
    r = report(ACME, "2026-11-22")
    # devices are the user's (earliest UA over all history): u_multi is the iPhone of Q2.
    assert r["users"] == {"total": 3, "new": 3, "returning": 0,
                          "by_device": [dev("desktop", "Chrome", 2), dev("mobile", "Mobile Safari", 1)]}
    assert r["messages"] == {"user_messages": 3, "per_user": 1.0, "per_chat": 1.0}
    # (10 + 10 + 1200) / 3 = 406.666...
    assert r["chats"] == {"total": 3, "avg_duration_seconds": approx(1220 / 3), "per_user": 1.0}
    # no request: counts 0, rate 0 / 3 = 0 (not null: there are active users)
    assert r["handover"] == {"requests": 0, "rate": 0.0, "chats_with_requests": 0, "chats_without_requests": 3,
                             "by_trigger": NO_HANDOVER_TRIGGERS, "by_mode": NO_MODES}
    assert r["engagement"] == {"new_users": 3, "returning_users": 0, "returning_rate": 0.0}
    assert r["feedback"] == {"reviewable": 0, "positive": 0, "negative": 0, "no_feedback": 0,
                             "chats_by_class": classes(0, 0, 0, 0, 0, 3)}
    assert r["csat"] == {"votes": 0, "score": None, "distribution": distribution(0, 0, 0, 0, 0)}
    # hour 15: o1-01, o1-03; hour 17: q1-01, q1-02; hour 23: r-01 (r-02 is on Monday)
    assert r["traffic"]["cells"] == cells({(7, 15): 2, (7, 17): 2, (7, 23): 1})
    assert r["clicks"]["rows"] == [clicks(PRICING, 1)]
    # name/kind are the latest over all history, even given after the period
    assert r["agents"]["rows"] == [agent("billing", "Billing assistant", "agent", 1, 0, 0)]


def test_two_day_period_counts_each_user_once(report):
    r = report(ACME, "2026-11-22", "2026-11-23")
    # users: the 17 of 11-23 + u_late22 = 18 (u_ret and u_multi are active both days, counted
    # once); every first chat is inside the period -> 18 new, 0 returning.
    assert (r["users"]["total"], r["users"]["new"], r["users"]["returning"]) == (18, 18, 0)
    assert r["users"]["by_device"][0] == dev("desktop", "Chrome", 7)   # + u_late22
    assert r["engagement"] == {"new_users": 18, "returning_users": 0, "returning_rate": 0.0}
    # chats 25 + 3 = 28; user messages 30 + 3 = 33; durations 14920 + 1220 = 16140
    # 33 / 18 = 1.8333... -> 1.833333; 33 / 28 = 1.1785714 -> 1.178571; 28 / 18 = 1.5555... -> 1.555556
    assert r["messages"] == {"user_messages": 33, "per_user": 1.833333, "per_chat": 1.178571}
    assert r["chats"] == {"total": 28, "avg_duration_seconds": approx(16140 / 28), "per_user": 1.555556}
    # 2 requesting users / 18 = 0.1111... -> 0.111111
    assert r["handover"]["rate"] == 0.111111
    assert r["feedback"]["chats_by_class"] == classes(1, 2, 1, 1, 1, 22)
    # 67 messages on 11-23 + 5 on 11-22
    cs = r["traffic"]["cells"]
    assert sum(c["messages"] for c in cs) == 72
    assert cs == cells({(7, 15): 2, (7, 17): 2, (7, 23): 1,
                        (1, 0): 3, (1, 9): 26, (1, 10): 21, (1, 11): 14, (1, 12): 2, (1, 23): 1})
    assert r["clicks"]["rows"][0] == clicks(PRICING, 3)
    # billing: o1-02 + m-02 + m-06 = 3 views -> first
    assert r["agents"]["rows"] == [
        agent("billing", "Billing assistant", "agent", 3, 2, 0),
        agent("account", None, "workflow", 2, 0, 0),
        agent("faq", "FAQ flow", "workflow", 0, 0, 1),
    ]


def test_next_day_late_rating_counts_for_its_answer_not_for_its_day(report):
    # 2026-11-24 (Tuesday, 2): only L2b (u_fb, returning), 10 s, one user message. The late
    # rating l2-09 belongs to L2 (11-23); l2-10 is not reviewable; billing has no view -> no row.
    r = report(ACME, "2026-11-24")
    assert r["users"] == {"total": 1, "new": 0, "returning": 1, "by_device": [dev("desktop", "Chrome", 1)]}
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(10), "per_user": 1.0}
    assert r["messages"] == {"user_messages": 1, "per_user": 1.0, "per_chat": 1.0}
    assert r["engagement"] == {"new_users": 0, "returning_users": 1, "returning_rate": 1.0}
    assert r["feedback"] == {"reviewable": 0, "positive": 0, "negative": 0, "no_feedback": 0,
                             "chats_by_class": classes(0, 0, 0, 0, 0, 1)}
    # s-02 (00:10, chat S of 11-23) counts here by its own time; l2-08, l2-10 at hour 10
    assert r["traffic"]["cells"] == cells({(2, 0): 1, (2, 10): 2})
    assert r["clicks"]["rows"] == []
    assert r["agents"]["rows"] == []
    # over both days, s-01 and s-02 both count
    both = report(ACME, "2026-11-23", "2026-11-24")
    assert both["chats"]["total"] == 26
    assert (both["traffic"]["cells"][23]["messages"], both["traffic"]["cells"][24]["messages"]) == (1, 1)
    assert sum(c["messages"] for c in both["traffic"]["cells"]) == 67 + 3


def test_dst_change_local_dates_hours_and_durations(report):
    # 10-25 (Sunday, 7): dst2 (00:30 +02:00, 60 s), dst3 (02:30 +02:00 -> 02:30 +01:00, 3600 s),
    # dst4 (23:30 +01:00, 20 s). dst1 is 23:30 on 10-24, dst5 00:30 on 10-26.
    r = report(ACME, "2026-10-25")
    assert r["users"] == {"total": 3, "new": 3, "returning": 0, "by_device": [dev("web", None, 3)]}
    # (60 + 3600 + 20) / 3 = 1226.666...
    assert r["chats"] == {"total": 3, "avg_duration_seconds": approx(3680 / 3), "per_user": 1.0}
    # 1 + 2 + 1 = 4; 4 / 3 = 1.3333... -> 1.333333
    assert r["messages"] == {"user_messages": 4, "per_user": 1.333333, "per_chat": 1.333333}
    # hour 0: dst2 00:30, 00:31; hour 2: the four events of dst3 (02:30, 02:50, 02:10, 02:30);
    # hour 23: dst4
    assert r["traffic"]["cells"] == cells({(7, 0): 2, (7, 2): 4, (7, 23): 2})
    r = report(ACME, "2026-10-24")
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(30), "per_user": 1.0}
    assert r["traffic"]["cells"] == cells({(6, 23): 2})
    r = report(ACME, "2026-10-26")
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(0), "per_user": 1.0}
    assert r["traffic"]["cells"] == cells({(1, 0): 1})


def test_other_assistants_use_their_own_time_zone(report, ws, tmp_path):
    # globex-sales: 03:00Z on 11-24 = 22:00 on Monday 11-23 in New York; its u_ret is not
    # acme's u_ret: new, no user agent -> web / null.
    r = report(GLOBEX, "2026-11-23")
    assert r["timezone"] == "America/New_York"
    assert r["users"] == {"total": 1, "new": 1, "returning": 0, "by_device": [dev("web", None, 1)]}
    assert r["chats"] == {"total": 1, "avg_duration_seconds": approx(30), "per_user": 1.0}
    assert r["traffic"]["cells"] == cells({(1, 22): 2})
    assert report(GLOBEX, "2026-11-24")["chats"]["total"] == 0
    # initech-help: 15:30Z on 11-23 = 00:30 on Tuesday 11-24 in Tokyo.
    assert report(INITECH, "2026-11-23")["chats"]["total"] == 0
    r = report(INITECH, "2026-11-24")
    assert r["timezone"] == "Asia/Tokyo"
    assert r["chats"]["total"] == 1
    assert r["traffic"]["cells"] == cells({(2, 0): 1})
    # umbrella-bot is not in the seed: reported in UTC, 23:30 on Monday 11-23.
    r = report(UMBRELLA, "2026-11-23")
    assert r["timezone"] in ("UTC", "Etc/UTC")
    assert r["chats"]["total"] == 1
    assert r["traffic"]["cells"] == cells({(1, 23): 1})
    assert report(UMBRELLA, "2026-11-24")["chats"]["total"] == 0
    # `report` and a report's export say why its dates are UTC's, in a note
    for command in (["report"], ["export", "report", "-o", str(tmp_path / "umbrella.csv")]):
        proc = ws.cli(*command, "--assistant", UMBRELLA, "--from", "2026-11-23", "--to", "2026-11-23")
        assert f"note: assistant {UMBRELLA} is not in seeds/assistants.csv" in proc.stderr, proc.stderr


def test_ids_that_hold_a_pipe_give_each_chat_its_own_id(report, ws):
    """kpis.md "Chats": a chat's id is derived from its conversation and first event. Joined by '|'
    alone, (c, e1|e2) and (c|e1, e2) gave one id: the refresh failed on its uniqueness test."""
    r = report(PIPES, "2026-11-24")
    assert r["chats"]["total"] == 2
    assert r["feedback"]["chats_by_class"] == classes(1, 0, 0, 0, 1, 0)
    assert (r["feedback"]["positive"], r["feedback"]["negative"]) == (1, 1)
    assert r["csat"]["votes"] == 2 and r["csat"]["score"] == approx(3.0)
    ids = ws.query("select chat_id from marts.dim_chats where assistant_id = ? order by conversation_id", [PIPES])
    assert len({chat_id for (chat_id,) in ids}) == 2


def test_period_without_chats_has_zero_counts_and_null_ratios(report):
    r = report(ACME, "2026-11-10", "2026-11-12")
    assert r == {
        "assistant_id": ACME, "timezone": "Europe/Rome", "from": "2026-11-10", "to": "2026-11-12",
        "channel": None,
        "users": {"total": 0, "new": 0, "returning": 0, "by_device": []},
        "messages": {"user_messages": 0, "per_user": None, "per_chat": None},
        "chats": {"total": 0, "avg_duration_seconds": None, "per_user": None},
        "handover": {"requests": 0, "rate": None, "chats_with_requests": 0, "chats_without_requests": 0,
                     "by_trigger": NO_HANDOVER_TRIGGERS, "by_mode": NO_MODES},
        "engagement": {"new_users": 0, "returning_users": 0, "returning_rate": None},
        "feedback": {"reviewable": 0, "positive": 0, "negative": 0, "no_feedback": 0,
                     "chats_by_class": classes(0, 0, 0, 0, 0, 0)},
        "csat": {"votes": 0, "score": None, "distribution": distribution(0, 0, 0, 0, 0)},
        "traffic": {"cells": cells({})},
        "clicks": {"rows": []},
        "agents": {"rows": []},
        "outcomes": {"resolved": 0, "abandoned": 0, "escalated": 0, "containment_rate": None,
                     "resolution_rate": None, "abandonment_rate": None, "escalation_rate": None},
        "answers": {"answers": 0, "fallbacks": 0, "fallback_rate": None, "chats_with_fallback": 0},
        "retention": {"cohort": 0, "returned_7d": 0, "returned_30d": 0, "rate_7d": None, "rate_30d": None},
        "daily": [daily(f"2026-11-{d}") for d in (10, 11, 12)],
        # the 3 days before: 11-07 .. 11-09, empty too
        "previous": {"from": "2026-11-07", "to": "2026-11-09",
                     **{k: v for k, v in r.items() if k not in PERIOD_KEYS}},
    }


# ----------------------------------------------------------------------------- beyond the platform
# (tests/test_beyond_kpis.py works each rule's edges in Asia/Tokyo; these check the same keys on
# this module's richer scenario)

PERIOD_KEYS = {"assistant_id", "timezone", "from", "to", "channel", "daily", "previous"}


def daily(date, users=0, new_users=0, chats=0, user_messages=0, handover_requests=0, escalated_chats=0,
          fallbacks=0, csat_votes=0, csat_score=None):
    return {"date": date, "users": users, "new_users": new_users, "chats": chats,
            "user_messages": user_messages, "handover_requests": handover_requests,
            "escalated_chats": escalated_chats, "fallbacks": fallbacks, "csat_votes": csat_votes,
            "csat_score": csat_score}


def test_outcomes_and_answers(report):
    # 2026-11-23, 25 chats:
    #   escalated (a request or an operator message): H1, H2, J = 3
    #   abandoned (last turn a user message, a click or a fallback): D1, D2 (user messages only),
    #     E2 (e-4), G (a click), N (n-03), P2 (p2-01) = 6
    #   resolved: A, B1, B2, C, E1, K, L1..L5, M, O2, Q2, S, T = 16 (L1's last turn is the
    #     non-reviewable answer l1-06: a real answer; S's answer s-02 is on 11-24 but in the chat)
    # 22 / 25 = 0.88; 16 / 25 = 0.64; 6 / 25 = 0.24; 3 / 25 = 0.12
    r = report(ACME, "2026-11-23")
    assert r["outcomes"] == {"resolved": 16, "abandoned": 6, "escalated": 3, "containment_rate": 0.88,
                             "resolution_rate": 0.64, "abandonment_rate": 0.24, "escalation_rate": 0.12}
    # answers: A 2, B 2, C 2, E1 1, H1 5, J 1, K 1, L1 5, L2 3, L3 3, L4 1, L5 1, M 4, N 1, O2 1,
    # Q2 1, S 1, T 1 = 36 (F's f-1 is not in a chat); fallbacks h-03, h-08, h-10, j-2 = 4 in 2
    # chats; 4 / 36 = 0.1111111 -> 0.111111
    assert r["answers"] == {"answers": 36, "fallbacks": 4, "fallback_rate": 0.111111, "chats_with_fallback": 2}
    # web: C (resolved, 2 answers), D1, D2 (abandoned), J (escalated, 1 answer, a fallback) go:
    # 21 chats = 15 + 4 + 2; 19 / 21 = 0.9047619; 15 / 21 = 0.7142857; 4 / 21 = 0.1904762;
    # 2 / 21 = 0.0952381; answers 33, fallbacks 3 in H1; 3 / 33 = 0.0909090...
    r = report(ACME, "2026-11-23", channel="web")
    assert r["outcomes"] == {"resolved": 15, "abandoned": 4, "escalated": 2, "containment_rate": 0.904762,
                             "resolution_rate": 0.714286, "abandonment_rate": 0.190476,
                             "escalation_rate": 0.095238}
    assert r["answers"] == {"answers": 33, "fallbacks": 3, "fallback_rate": 0.090909, "chats_with_fallback": 1}


def test_retention(report):
    # 11-23's 15 new users: only u_fb comes back (L2b on 11-24, 1 day later); 1 / 15 = 0.0666666
    assert report(ACME, "2026-11-23")["retention"] == {
        "cohort": 15, "returned_7d": 1, "returned_30d": 1, "rate_7d": 0.066667, "rate_30d": 0.066667}
    # 11-22's new users u_ret, u_multi, u_late22: u_ret (O2) and u_multi (Q2, on web) come back on
    # 11-23: 2 / 3 = 0.6666666
    assert report(ACME, "2026-11-22")["retention"] == {
        "cohort": 3, "returned_7d": 2, "returned_30d": 2, "rate_7d": 0.666667, "rate_30d": 0.666667}
    # web: the users whose first web chat is on 11-22: u_ret, u_late22 (u_multi's is Q2 on 11-23);
    # u_ret returns on web: 1 / 2
    assert report(ACME, "2026-11-22", channel="web")["retention"] == {
        "cohort": 2, "returned_7d": 1, "returned_30d": 1, "rate_7d": 0.5, "rate_30d": 0.5}


def test_daily_series(report):
    r = report(ACME, "2026-11-22", "2026-11-24")
    assert r["daily"] == [
        # O1, Q1, R: 3 users, all new, one user message each
        daily("2026-11-22", users=3, new_users=3, chats=3, user_messages=3),
        # 17 users, 15 new, 25 chats, 30 user messages; requests H1 3 + H2 1 + J 1 = 5; escalated
        # H1 H2 J; fallbacks 4; votes J 4 and K 5, mean 4.5
        daily("2026-11-23", users=17, new_users=15, chats=25, user_messages=30, handover_requests=5,
              escalated_chats=3, fallbacks=4, csat_votes=2, csat_score=4.5),
        # L2b (u_fb, returning): one user message
        daily("2026-11-24", users=1, chats=1, user_messages=1),
    ]


def test_previous_period_is_the_report_of_the_days_before(report):
    # 11-23's previous period is 11-22, every module as in 11-22's own report
    r, own = report(ACME, "2026-11-23"), report(ACME, "2026-11-22")
    assert r["previous"] == {"from": "2026-11-22", "to": "2026-11-22",
                             **{k: v for k, v in own.items() if k not in PERIOD_KEYS}}
    assert r["previous"]["chats"]["total"] == 3
    # 11-23 .. 11-24 (2 days): previous 11-21 .. 11-22 holds only 11-22's chats
    assert report(ACME, "2026-11-23", "2026-11-24")["previous"]["outcomes"] == {
        "resolved": 3, "abandoned": 0, "escalated": 0, "containment_rate": 1.0, "resolution_rate": 1.0,
        "abandonment_rate": 0.0, "escalation_rate": 0.0}


# ----------------------------------------------------------------------------- errors

def assert_user_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("args", [
    ("--assistant", "no-such-assistant", "--from", "2026-11-23", "--to", "2026-11-23"),
    ("--assistant", ACME, "--from", "2026-11-24", "--to", "2026-11-23"),
    ("--assistant", ACME, "--from", "2026-11-31", "--to", "2026-12-01"),
    ("--assistant", ACME, "--from", "23/11/2026", "--to", "2026-11-23"),
], ids=["unknown-assistant", "from-after-to", "impossible-date", "malformed-date"])
def test_report_errors(ws, args):
    assert_user_error(ws.cli("report", *args, "--format", "json", check=False))


def test_report_on_missing_warehouse_file(workspace):
    assert not workspace.warehouse.exists()
    assert_user_error(workspace.cli("report", "--assistant", ACME, "--from", "2026-11-23",
                                    "--to", "2026-11-23", check=False))


def test_refresh_of_missing_export_day(workspace):
    write_export(workspace.exports, "2026-11-23", "part-0000.jsonl",
                 [um("z-1", at(23, "09:00:00"), **who("u_z", "c-z"))])
    assert_user_error(workspace.cli("refresh", "--day", "2026-11-20", check=False))


# ----------------------------------------------------------------------------- cost (#19)

class RecordingConnection:
    """A DuckDB connection that records every statement it runs (with its parameters)."""

    def __init__(self, conn):
        self.conn, self.statements = conn, []

    def execute(self, sql, params=None):
        self.statements.append((sql, params))
        return self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)


def mart_scans(conn, sql: str, params) -> collections.Counter:
    """How many times the plan of `sql` reads each mart (its table scans, from EXPLAIN's JSON)."""
    plan = json.loads(conn.execute(f"explain (format json) {sql}", params).fetchall()[0][1])
    scans: collections.Counter = collections.Counter()

    def walk(node):
        for child in node if isinstance(node, list) else [node]:
            if child.get("name", "").strip() in ("SEQ_SCAN", "TABLE_SCAN"):
                table = child.get("extra_info", {}).get("Table", "")
                if ".marts." in f".{table}":
                    scans[table.split(".")[-1]] += 1
            walk(child.get("children", []))

    walk(plan)
    return scans


@pytest.mark.parametrize("channel", [None, "web"])
def test_the_report_reads_each_mart_once_for_both_periods_and_the_days(ws, channel):
    """#19 (a month's report with its previous month under a second at 3 M events a day): the
    report scans each mart once for the period, the previous period and the daily series (it used
    to read six marts a second time for the days), reads the chat-grain modules from their daily
    sums (fct_chats_daily) instead of a row per chat, and looks the assistant (its time zone) up
    once while checking the filters (it used to look it up twice)."""
    from orchestration.serve.report import ReportParams, build_report

    conn = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        recording = RecordingConnection(conn)
        report = build_report(recording, ReportParams(ACME, dt.date(2026, 11, 1), dt.date(2026, 11, 30), channel))
        assert report["chats"]["total"] and report["previous"]["chats"]["total"]  # both periods hold chats
        scans: collections.Counter = collections.Counter()
        for sql, params in recording.statements:
            scans += mart_scans(conn, sql, params)
    finally:
        conn.close()
    kpi_marts = {"fct_users", "fct_retention", "fct_traffic", "fct_clicks", "fct_agents"}
    assert kpi_marts <= set(scans), scans
    assert {mart: n for mart, n in scans.items() if mart in kpi_marts and n > 1} == {}, scans
    # the chat-grain modules come from their daily sums (a few rows per day, read once by each of
    # the seven modules' queries), never from the per-chat marts (a row per chat)
    per_chat = {"fct_chats", "fct_messages", "fct_handover", "fct_feedback", "fct_csat", "fct_outcomes",
                "fct_answers"}
    assert per_chat & set(scans) == set(), scans
    assert 1 <= scans["fct_chats_daily"] <= len(per_chat), scans
    assert scans["dim_assistants"] == 1, scans


# ------------------------------------------------------------------------------------------
# The dbt tests fail on this scenario's rows broken as a model bug would break them
# ------------------------------------------------------------------------------------------


def test_every_singular_and_generic_dbt_test_is_broken_by_some_test_file():
    """A test that nothing ever makes fail could be true by construction: each singular test is either
    broken in kpi_test_breaks.BREAKS (below) or named in the file that breaks it, and so is one test
    of each generic test."""
    tests = REPO / "dbt_project" / "tests"
    singular = {path.stem for path in tests.glob("*.sql")}
    broken_singular = {test for test in BREAKS if test.startswith("assert_")}
    assert not broken_singular & set(PROVEN_ELSEWHERE)
    assert broken_singular | set(PROVEN_ELSEWHERE) == singular
    for test, file in PROVEN_ELSEWHERE.items():
        assert test in (REPO / "tests" / file).read_text(), f"{file} does not break {test}"

    assert set(GENERIC_PROVEN) == {path.stem for path in (tests / "generic").glob("*.sql")}
    model_files = "\n".join(path.read_text() for path in (REPO / "dbt_project" / "models").rglob("*.yml"))
    for generic, (test, file) in GENERIC_PROVEN.items():
        assert re.search(rf"- {generic}:\n\s+name: {test}\n", model_files), f"{test} is no {generic} test"
        if file == "kpi_test_breaks.py":
            assert test in BREAKS, f"no break of {test}"
        else:
            assert test in (REPO / "tests" / file).read_text(), f"{file} does not break {test}"
    assert set(BREAKS) - broken_singular <= {test for test, _ in GENERIC_PROVEN.values()}


def broken_copy(ws: Workspace, folder: Path, breaks) -> Workspace:
    """A workspace in `folder` with a copy of `ws`'s warehouse, every break of `breaks` applied to its
    build file (each statement changing the rows it says)."""
    copy = Workspace(folder)
    copy_warehouse(ws.warehouse, copy.warehouse)
    conn = duckdb.connect(str(build_path_for(copy.warehouse)))
    try:
        for broken in breaks:
            changed = tuple(conn.execute(sql).fetchone()[0] for sql in broken.statements)
            assert changed == broken.rows, broken
    finally:
        conn.close()
    return copy


def test_each_singular_dbt_test_fails_on_rows_broken_as_a_model_bug_would(ws, tmp_path):
    """Every break of kpi_test_breaks.BREAKS applied to a copy of the build file (the refresh that
    built it ran these tests and they passed), then one by-hand `dbt test` of every row: each test
    fails under its own name (a test of severity warn warns with more rows than the scenario gives)."""
    proc = dbt_test_by_hand(broken_copy(ws, tmp_path, BREAKS.values()), *BREAKS)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert set(re.findall(r"Failure in test (\w+)", output)) == set(BREAKS) - set(WARN_ONLY), output
    for test, rows_without_a_break in WARN_ONLY.items():
        warned = re.search(rf"Warning in test {test} .*?Got (\d+) results?", output, re.S)
        assert warned and int(warned[1]) > rows_without_a_break, output


def test_the_sessions_test_fails_on_sessions_merged_and_on_a_session_id_not_its_first_events(ws, tmp_path):
    """assert_sessions_split_only_at_inactivity_gaps' other two faults (the test above breaks it with a
    split where there is no gap), on a copy of their own: the two events of a session merged into the
    one before it and the one event given a session_id of its own are its 2 + 1 rows."""
    proc = dbt_test_by_hand(broken_copy(ws, tmp_path, MORE_SESSIONS_BREAKS), SESSIONS_TEST)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert re.search(rf"Failure in test {SESSIONS_TEST} .*?Got 3 results", output, re.S), output

