"""The report's user counts (orchestration/serve/queries/users.sql) over hand-made fct_users rows:
a user is counted on the row where they enter the period (the first row of a day, over all
channels, whose previous chat date is before the period; under a channel filter the previous date
in that channel), so the counts need no group by user. Plain DuckDB, no refresh: the rows below are
fct_users as its YAML defines it, their previous dates and first-of-day flags worked out by hand
(dbt_project/tests/assert_fct_users_previous_dates_follow_definition.sql checks the model computes
them so), and every expected number counted by hand from the story of each user.

Period 2026-11-10 .. 11-12, previous period 11-07 .. 11-09 (acme-support):

  u_two   web and whatsapp on 11-10 (first chat ever; the whatsapp chat requests a handover),
          web on 11-11 with a handover request. One user on 11-10, not two.
  u_prev  web on 11-08 (previous period, with a handover request) and 11-12: their only earlier
          chat is in the previous period, so they are returning in the period and new in the
          previous one; a handover user only in the previous one. No user_agent: device = web.
  u_old   web on 10-01 (first chat), voice on 11-09, voice and web on 11-11, both with handover
          requests (one user with requests, not two).
  u_late  web on 11-05, whatsapp on 11-11, web on 11-12: returning over all channels and on web
          (their previous web chat is 11-05, though their previous chat is 11-11), new on whatsapp.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from orchestration.errors import ReportError
from orchestration.serve import queries
from orchestration.serve.report import ReportParams, connect_read_only, known_channels, run_query

ACME = "acme-support"
D = dt.date.fromisoformat
FROM, TO = D("2026-11-10"), D("2026-11-12")

COLUMNS = ("assistant_id", "channel", "user_id", "chat_local_date", "chats", "chats_with_handover_requests",
           "first_chat_local_date", "first_chat_local_date_in_channel", "is_first_row_of_day",
           "is_first_handover_row_of_day", "previous_chat_local_date", "previous_chat_local_date_in_channel",
           "previous_handover_chat_local_date", "previous_handover_chat_local_date_in_channel",
           "device_type", "user_agent_device_type", "browser")
TYPES = ("varchar", "varchar", "varchar", "date", "integer", "integer", "date", "date", "boolean", "boolean",
         "date", "date", "date", "date", "varchar", "varchar", "varchar")

DEVICES = {"u_two": ("desktop", "desktop", "Chrome"), "u_prev": ("web", None, None),
           "u_old": ("mobile", "mobile", "Mobile Safari"), "u_late": ("tablet", "tablet", "Mobile Safari")}

# user, channel, date, chats, with handover requests, first chat, first in channel, first row of the
# day, first handover row of the day, previous date, previous in channel, previous handover date,
# previous handover date in channel
ROWS = [
    ("u_two", "web", "11-10", 1, 0, "11-10", "11-10", True, False, None, None, None, None),
    ("u_two", "whatsapp", "11-10", 1, 1, "11-10", "11-10", False, True, None, None, None, None),
    ("u_two", "web", "11-11", 1, 1, "11-10", "11-10", True, True, "11-10", "11-10", "11-10", None),
    ("u_prev", "web", "11-08", 1, 1, "11-08", "11-08", True, True, None, None, None, None),
    ("u_prev", "web", "11-12", 1, 0, "11-08", "11-08", True, False, "11-08", "11-08", "11-08", "11-08"),
    ("u_old", "web", "10-01", 1, 0, "10-01", "10-01", True, False, None, None, None, None),
    ("u_old", "voice", "11-09", 1, 0, "10-01", "11-09", True, False, "10-01", None, None, None),
    ("u_old", "voice", "11-11", 1, 1, "10-01", "11-09", True, True, "11-09", "11-09", None, None),
    ("u_old", "web", "11-11", 2, 2, "10-01", "10-01", False, False, "11-09", "10-01", None, None),
    ("u_late", "web", "11-05", 1, 0, "11-05", "11-05", True, False, None, None, None, None),
    ("u_late", "whatsapp", "11-11", 1, 0, "11-05", "11-11", True, False, "11-05", None, None, None),
    ("u_late", "web", "11-12", 1, 0, "11-05", "11-05", True, False, "11-11", "11-05", None, None),
]


def day(md: str | None) -> dt.date | None:
    return None if md is None else D(f"2026-{md}")


@pytest.fixture(scope="module")
def conn():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute("create table marts.fct_users ("
                 + ", ".join(f"{c} {t}" for c, t in zip(COLUMNS, TYPES, strict=True)) + ")")
    for user, channel, date, chats, handover, first, first_in_channel, *flags_and_dates in ROWS:
        first_of_day, first_handover_of_day, *previous = flags_and_dates
        conn.execute(f"insert into marts.fct_users values ({', '.join('?' * len(COLUMNS))})",
                     [ACME, channel, user, day(date), chats, handover, day(first), day(first_in_channel),
                      first_of_day, first_handover_of_day, *(day(p) for p in previous), *DEVICES[user]])
    yield conn
    conn.close()


def user_counts(conn, channel: str | None) -> dict:
    """users.sql's rows as {"current"/"previous": (users, new, returning, handover users, by_device),
    "daily": {date: (users, new_users)}}."""
    rows = run_query(conn, queries.read("users"), ReportParams(ACME, FROM, TO, channel))
    result = {"daily": {}}
    for r in rows:
        if r["chat_local_date"] is None:
            devices = [(d["device_type"], d["browser"], d["users"]) for d in r["by_device"] or []]
            result["current" if r["is_current"] else "previous"] = (
                r["users"], r["new_users"], r["returning_users"], r["users_with_handover_requests"], devices)
        else:
            result["daily"][r["chat_local_date"].isoformat()[5:]] = (r["users"], r["new_users"])
    return result


def test_all_channels_counts_each_user_once_per_period_and_day(conn):
    got = user_counts(conn, None)
    # active: u_two, u_prev, u_old, u_late; new: u_two; with a handover request: u_two, u_old
    assert got["current"] == (4, 1, 3, 2, [("desktop", "Chrome", 1), ("mobile", "Mobile Safari", 1),
                                           ("tablet", "Mobile Safari", 1), ("web", None, 1)])
    # 11-07 .. 11-09: u_prev (new, with a handover request), u_old (returning)
    assert got["previous"] == (2, 1, 1, 1, [("mobile", "Mobile Safari", 1), ("web", None, 1)])
    # 11-10: u_two once though in two channels; 11-11: u_two, u_old, u_late; 11-12: u_prev, u_late
    assert got["daily"] == {"11-10": (1, 1), "11-11": (3, 0), "11-12": (2, 0)}


def test_web_filter_uses_the_users_web_history(conn):
    got = user_counts(conn, "web")
    # u_two (new on web), u_old, u_prev and u_late (web chats before the period); requests on web:
    # u_two (11-11: their request of 11-10 was on whatsapp), u_old
    assert got["current"] == (4, 1, 3, 2, [("desktop", "Chrome", 1), ("mobile", "Mobile Safari", 1),
                                           ("tablet", "Mobile Safari", 1), ("web", None, 1)])
    assert got["previous"] == (1, 1, 0, 1, [("web", None, 1)])  # u_prev on 11-08
    assert got["daily"] == {"11-10": (1, 1), "11-11": (2, 0), "11-12": (2, 0)}


def test_whatsapp_filter_first_chat_in_the_channel_makes_a_user_new(conn):
    got = user_counts(conn, "whatsapp")
    # u_two (request on whatsapp 11-10) and u_late: both first on whatsapp in the period. The device
    # type of a user with a user_agent is theirs; the previous period has no whatsapp chat at all.
    assert got["current"] == (2, 2, 0, 1, [("desktop", "Chrome", 1), ("tablet", "Mobile Safari", 1)])
    assert "previous" not in got
    assert got["daily"] == {"11-10": (1, 1), "11-11": (1, 1)}


def test_voice_filter_request_in_another_channel_does_not_count(conn):
    got = user_counts(conn, "voice")
    # u_old: first voice chat 11-09 (previous period: new there), returning in the period, with a
    # request on voice 11-11; on 11-09 no request on voice
    assert got["current"] == (1, 0, 1, 1, [("mobile", "Mobile Safari", 1)])
    assert got["previous"] == (1, 1, 0, 0, [("mobile", "Mobile Safari", 1)])
    assert got["daily"] == {"11-11": (1, 0)}


def test_a_warehouse_without_the_previous_dates_gets_one_clear_error(tmp_path):
    """A warehouse built before fct_users had these columns: one line saying what to run on it (its
    path and exports folder named), no traceback."""
    from orchestration.serve.report import reading_warehouse

    warehouse, exports = tmp_path / "old one.duckdb", tmp_path / "exports"
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute("create table marts.fct_users as select "
                 + ", ".join(f"null::{t} as {c}" for c, t in zip(COLUMNS[:8], TYPES[:8], strict=True))
                 + ", 'web' as device_type, null::varchar as user_agent_device_type, null::varchar as browser")
    with pytest.raises(ReportError) as raised, reading_warehouse(warehouse, exports):
        run_query(conn, queries.read("users"), ReportParams(ACME, FROM, TO))
    assert str(raised.value).startswith(f"the warehouse {warehouse} lacks what this version reads (")
    assert "is_first_row_of_day" in str(raised.value)
    assert str(raised.value).endswith(
        f"; run `assistant-analytics refresh --full --warehouse '{warehouse}' --exports {exports}` once")
    conn.close()


def test_channels_of_a_warehouse_without_the_seed_tables(tmp_path):
    """A warehouse file without raw.channels (e.g. marts copied alone): the channels are those of
    the marts, not an error about the Python variable that happens to be named `channels`."""
    path = tmp_path / "marts_only.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("create schema marts")
    conn.execute("create table marts.fct_engagement as select 'acme-support' as assistant_id, 'web' as channel")
    conn.close()
    conn = connect_read_only(path)
    try:
        assert known_channels(conn, "acme-support") == ["web"]
    finally:
        conn.close()
