"""The report of interfaces.md, read from the marts with SQL alone: every KPI and ratio is computed
by DuckDB; Python only arranges the rows into the JSON shape. The dashboard uses these same queries.

Every query takes the named parameters $assistant, $date_from, $date_to and $channel (NULL: all).
A chat is in the period when its local start date is; a user is active when they have such a chat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import ReportError

# A chat (or a user-day row) is in the period by its local start date.
_CHATS_IN_PERIOD = """
    assistant_id = $assistant
    and chat_local_date between $date_from and $date_to
    and ($channel is null or channel = $channel)
"""

# One row per user active in the period: one hash aggregation over fct_users gives every user
# count (active, new/returning, with handover requests, by device). A user's device fields are the
# same on all their rows (from dim_users), so any_value is exact.
_ACTIVE_USERS = f"""
    select
        user_id,
        min(case when $channel is null then first_chat_local_date
                 else first_chat_local_date_in_channel end) as first_chat_local_date,
        sum(chats_with_handover_requests) > 0 as has_handover_requests,
        any_value(coalesce(user_agent_device_type, $channel, device_type)) as device_type,
        any_value(browser) as browser
    from marts.fct_users
    where {_CHATS_IN_PERIOD}
    group by user_id
"""

QUERIES: dict[str, str] = {
    "headline": f"""
        with active as ({_ACTIVE_USERS}),
        users as (
            select
                count(*) as total,
                count(*) filter (where first_chat_local_date >= $date_from) as new,
                count(*) filter (where first_chat_local_date < $date_from) as returning,
                count(*) filter (where has_handover_requests) as with_handover_requests
            from active
        ),
        by_device as (
            select device_type, browser, count(*) as users
            from active
            group by device_type, browser
        ),
        device_list as (
            -- interfaces.md order: users descending, then device_type, then browser
            select coalesce(list(struct_pack(device_type, browser, users)
                                 order by users desc, device_type, browser nulls last), []) as by_device
            from by_device
        ),
        chats as (
            select count(*) as chats, avg(duration_seconds) as avg_duration_seconds
            from marts.fct_chats where {_CHATS_IN_PERIOD}
        ),
        messages as (
            select coalesce(sum(user_messages), 0) as user_messages
            from marts.fct_messages where {_CHATS_IN_PERIOD}
        ),
        handover as (
            select
                coalesce(sum(requests), 0) as requests,
                count(*) filter (where has_requests) as chats_with_requests,
                count(*) filter (where not has_requests) as chats_without_requests,
                coalesce(sum(direct_requests), 0) as direct,
                coalesce(sum(after_fallback_requests), 0) as after_fallback,
                coalesce(sum(operator_button_requests), 0) as operator_button,
                coalesce(sum(human_takeover_requests), 0) as human_takeover,
                coalesce(sum(ticket_requests), 0) as ticket
            from marts.fct_handover where {_CHATS_IN_PERIOD}
        ),
        feedback as (
            select
                coalesce(sum(reviewable), 0) as reviewable,
                coalesce(sum(positive), 0) as positive,
                coalesce(sum(negative), 0) as negative,
                coalesce(sum(no_feedback), 0) as no_feedback,
                count(*) filter (where feedback_class = 'only_positive') as only_positive,
                count(*) filter (where feedback_class = 'more_positive') as more_positive,
                count(*) filter (where feedback_class = 'balanced') as balanced,
                count(*) filter (where feedback_class = 'more_negative') as more_negative,
                count(*) filter (where feedback_class = 'only_negative') as only_negative,
                count(*) filter (where feedback_class = 'no_feedback') as no_feedback_chats
            from marts.fct_feedback where {_CHATS_IN_PERIOD}
        ),
        csat as (
            select
                count(*) as votes,
                avg(score) as score,
                count(*) filter (where score = 1) as s1,
                count(*) filter (where score = 2) as s2,
                count(*) filter (where score = 3) as s3,
                count(*) filter (where score = 4) as s4,
                count(*) filter (where score = 5) as s5
            from marts.fct_csat where {_CHATS_IN_PERIOD}
        )
        select
            users.total as users_total,
            users.new as users_new,
            users.returning as users_returning,
            messages.user_messages,
            round(messages.user_messages / nullif(users.total, 0), 6) as messages_per_user,
            round(messages.user_messages / nullif(chats.chats, 0), 6) as messages_per_chat,
            chats.chats as chats_total,
            round(chats.avg_duration_seconds, 6) as chats_avg_duration_seconds,
            round(chats.chats / nullif(users.total, 0), 6) as chats_per_user,
            handover.requests as handover_requests,
            round(users.with_handover_requests / nullif(users.total, 0), 6) as handover_rate,
            handover.chats_with_requests,
            handover.chats_without_requests,
            handover.direct, handover.after_fallback, handover.operator_button,
            handover.human_takeover, handover.ticket,
            round(users.returning / nullif(users.total, 0), 6) as returning_rate,
            feedback.reviewable, feedback.positive, feedback.negative, feedback.no_feedback,
            feedback.only_positive, feedback.more_positive, feedback.balanced,
            feedback.more_negative, feedback.only_negative, feedback.no_feedback_chats,
            csat.votes as csat_votes,
            round(csat.score, 6) as csat_score,
            csat.s1, csat.s2, csat.s3, csat.s4, csat.s5,
            device_list.by_device
        from users, chats, messages, handover, feedback, csat, device_list
    """,
    "traffic": """
        with cells as (
            select weekday, hour
            from range(1, 8) as w(weekday), range(0, 24) as h(hour)
        ),
        counted as (
            select local_weekday, local_hour, sum(messages) as messages
            from marts.fct_traffic
            where assistant_id = $assistant
              and local_date between $date_from and $date_to
              and ($channel is null or channel = $channel)
            group by local_weekday, local_hour
        )
        select cells.weekday, cells.hour, coalesce(counted.messages, 0) as messages
        from cells
        left join counted on cells.weekday = counted.local_weekday and cells.hour = counted.local_hour
        order by cells.weekday, cells.hour
    """,
    "clicks": f"""
        select click_type, title, destination_type, destination, sum(clicks) as clicks
        from marts.fct_clicks
        where {_CHATS_IN_PERIOD}
        group by click_type, title, destination_type, destination
        order by clicks desc, click_type, title, destination_type, destination
    """,
    "agents": f"""
        with counted as (
            select agent_id, sum(views) as views, sum(positive) as positive, sum(negative) as negative
            from marts.fct_agents
            where {_CHATS_IN_PERIOD}
            group by agent_id
            having sum(views) > 0 or sum(positive) > 0 or sum(negative) > 0
        )
        select counted.agent_id, dim_agents.agent_name as name, dim_agents.agent_kind as kind,
               counted.views, counted.positive, counted.negative
        from counted
        left join marts.dim_agents
            on dim_agents.assistant_id = $assistant and dim_agents.agent_id = counted.agent_id
        order by counted.views desc, counted.agent_id
    """,
    "data_quality": """
        select
            count(*) as export_days,
            coalesce(sum(lines_read), 0) as lines_read,
            coalesce(sum(lines_rejected), 0) as lines_rejected,
            coalesce(sum(duplicates_dropped), 0) as duplicates_dropped
        from marts.data_quality_daily
        where export_date between $date_from and $date_to
    """,
    # Daily points for trend charts (dashboard): per local date of chat start.
    "daily": f"""
        with days as (
            select cast(d as date) as local_date
            from range(cast($date_from as timestamp), cast($date_to as timestamp) + interval 1 day,
                       interval 1 day) as t(d)
        ),
        chats as (
            select chat_local_date, count(*) as chats, count(distinct user_id) as active_users,
                   avg(duration_seconds) as avg_duration_seconds
            from marts.fct_chats where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        messages as (
            select chat_local_date, sum(user_messages) as user_messages
            from marts.fct_messages where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        handover as (
            select chat_local_date, sum(requests) as handover_requests
            from marts.fct_handover where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        csat as (
            select chat_local_date, avg(score) as csat_score, count(*) as csat_votes
            from marts.fct_csat where {_CHATS_IN_PERIOD} group by chat_local_date
        )
        select days.local_date,
               coalesce(chats.active_users, 0) as active_users,
               coalesce(chats.chats, 0) as chats,
               coalesce(messages.user_messages, 0) as user_messages,
               coalesce(handover.handover_requests, 0) as handover_requests,
               round(chats.avg_duration_seconds, 6) as avg_duration_seconds,
               round(csat.csat_score, 6) as csat_score
        from days
        left join chats on chats.chat_local_date = days.local_date
        left join messages on messages.chat_local_date = days.local_date
        left join handover on handover.chat_local_date = days.local_date
        left join csat on csat.chat_local_date = days.local_date
        order by days.local_date
    """,
}


@dataclass(frozen=True)
class ReportParams:
    assistant: str
    date_from: dt.date
    date_to: dt.date
    channel: str | None = None

    def sql(self) -> dict:
        return {"assistant": self.assistant, "date_from": self.date_from, "date_to": self.date_to,
                "channel": self.channel}


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.is_file():
        raise ReportError(f"warehouse file not found: {warehouse} (run `assistant-analytics refresh` first)")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open warehouse {warehouse}: {exc}") from None


def _rows(conn, name: str, params: ReportParams) -> list[dict]:
    sql = QUERIES[name]
    cur = conn.execute(sql, {k: v for k, v in params.sql().items() if f"${k}" in sql})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def _num(x):
    # DuckDB returns DECIMAL/HUGEINT for sums; JSON wants plain numbers.
    if x is None:
        return None
    f = float(x)
    return int(f) if f.is_integer() and not isinstance(x, float) else f


def assistant_timezone(conn, assistant: str) -> str:
    try:
        row = conn.execute("select timezone from marts.dim_assistants where assistant_id = ?",
                           [assistant]).fetchall()
        row = row[0] if row else None
    except duckdb.CatalogException:
        raise ReportError("the warehouse has no marts yet (run `assistant-analytics refresh`)") from None
    if row is None:
        known = [r[0] for r in conn.execute("select assistant_id from marts.dim_assistants order by 1").fetchall()]
        raise _unknown("assistant", assistant, known, " in seeds/assistants.csv or the exports")
    return row[0]


def _unknown(what: str, value: str, valid: list[str], where: str = "") -> ReportError:
    """`unknown channel 'Web' (did you mean 'web'? ...); channels of x: voice, web`: a hint when
    only the case differs (names are case-sensitive)."""
    same_but_case = [v for v in valid if v.casefold() == value.casefold()]
    hint = f" (did you mean {same_but_case[0]!r}? names are case-sensitive)" if same_but_case else ""
    shown = ", ".join(valid[:20]) + (f", ... ({len(valid)} in all)" if len(valid) > 20 else "")
    return ReportError(f"unknown {what} {value!r}{hint}; {what}s{where}: {shown or 'none'}")


def known_channels(conn: duckdb.DuckDBPyConnection, assistant: str | None) -> list[str]:
    """The channels an assistant has data in (any assistant's when None), and those of seeds/channels.csv."""
    rows = conn.execute(
        "select distinct channel from marts.fct_engagement where $assistant is null or assistant_id = $assistant",
        {"assistant": assistant}).fetchall()
    channels = {r[0] for r in rows}
    with contextlib.suppress(duckdb.CatalogException):  # the seed table, built by dbt beside raw
        channels |= {r[0] for r in conn.execute("select channel from raw.channels").fetchall()}
    return sorted(channels)


def validate_filters(conn: duckdb.DuckDBPyConnection, *, assistant: str | None = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None,
                     channel: str | None = None) -> None:
    """The one check of the filters that `report` and `export` take (None: not given); raises
    ReportError naming what would have been valid."""
    if date_from and date_to and date_from > date_to:
        raise ReportError(f"--from {date_from} is after --to {date_to}")
    if assistant is not None:
        assistant_timezone(conn, assistant)
    if channel is not None:
        try:
            valid = known_channels(conn, assistant)
        except duckdb.CatalogException:
            raise ReportError("the warehouse has no marts yet (run `assistant-analytics refresh`)") from None
        if channel not in valid:
            raise _unknown("channel", channel, valid, f" of {assistant}" if assistant else "")


def period_notice(conn: duckdb.DuckDBPyConnection, *, assistant: str | None = None,
                  date_from: dt.date | None = None, date_to: dt.date | None = None,
                  channel: str | None = None) -> str | None:
    """One line for stderr when the period has no data at all, or reaches past the newest loaded
    export day (its last days are then empty or incomplete); None when there is nothing to say."""
    if date_from is None and date_to is None:
        return None
    [(newest, first)] = conn.execute(
        "select max(export_date), min(export_date) from marts.data_quality_daily").fetchall()
    if newest is None:
        return "no export day is loaded yet: the warehouse holds no data"
    period = f"{date_from or '...'} .. {date_to or '...'}"
    if date_from and date_from > newest:
        return f"no data: the period {period} starts after the newest loaded export day ({newest})"
    filters = {"assistant": assistant, "date_from": date_from, "date_to": date_to, "channel": channel}
    in_period = """
        ($assistant is null or assistant_id = $assistant) and ($channel is null or channel = $channel)
        and ($date_from is null or {col} >= $date_from) and ($date_to is null or {col} <= $date_to)"""
    has_data = conn.execute(f"""
        select exists (select 1 from marts.fct_chats where {in_period.format(col='chat_local_date')})
            or exists (select 1 from marts.fct_traffic where {in_period.format(col='local_date')})""",
        filters).fetchall()[0][0]
    if not has_data:
        who = " for " + ", ".join(f"{k} {v}" for k, v in (("assistant", assistant), ("channel", channel)) if v) \
            if assistant or channel else ""
        return f"no data{who} in the period {period} (loaded export days: {first} .. {newest})"
    if date_to is not None and date_to > newest:
        return (f"the period {period} reaches past the newest loaded export day ({newest}): "
                "its later days are empty or incomplete")
    return None


def build_report(conn: duckdb.DuckDBPyConnection, params: ReportParams) -> dict:
    validate_filters(conn, assistant=params.assistant, date_from=params.date_from, date_to=params.date_to,
                     channel=params.channel)
    timezone = assistant_timezone(conn, params.assistant)
    h = _rows(conn, "headline", params)[0]
    n = {k: _num(v) for k, v in h.items() if k != "by_device"}
    return {
        "assistant_id": params.assistant,
        "timezone": timezone,
        "from": params.date_from.isoformat(),
        "to": params.date_to.isoformat(),
        "channel": params.channel,
        "users": {
            "total": n["users_total"], "new": n["users_new"], "returning": n["users_returning"],
            "by_device": [
                {"device_type": r["device_type"], "browser": r["browser"], "users": _num(r["users"])}
                for r in h["by_device"]
            ],
        },
        "messages": {"user_messages": n["user_messages"], "per_user": n["messages_per_user"],
                     "per_chat": n["messages_per_chat"]},
        "chats": {"total": n["chats_total"], "avg_duration_seconds": n["chats_avg_duration_seconds"],
                  "per_user": n["chats_per_user"]},
        "handover": {
            "requests": n["handover_requests"], "rate": n["handover_rate"],
            "chats_with_requests": n["chats_with_requests"],
            "chats_without_requests": n["chats_without_requests"],
            "by_trigger": {"direct": n["direct"], "after_fallback": n["after_fallback"],
                           "operator_button": n["operator_button"]},
            "by_mode": {"human_takeover": n["human_takeover"], "ticket": n["ticket"]},
        },
        "engagement": {"new_users": n["users_new"], "returning_users": n["users_returning"],
                       "returning_rate": n["returning_rate"]},
        "feedback": {
            "reviewable": n["reviewable"], "positive": n["positive"], "negative": n["negative"],
            "no_feedback": n["no_feedback"],
            "chats_by_class": {
                "only_positive": n["only_positive"], "more_positive": n["more_positive"],
                "balanced": n["balanced"], "more_negative": n["more_negative"],
                "only_negative": n["only_negative"], "no_feedback": n["no_feedback_chats"],
            },
        },
        "csat": {"votes": n["csat_votes"], "score": n["csat_score"],
                 "distribution": {str(s): n[f"s{s}"] for s in range(1, 6)}},
        "traffic": {"cells": [{"weekday": _num(r["weekday"]), "hour": _num(r["hour"]),
                               "messages": _num(r["messages"])} for r in _rows(conn, "traffic", params)]},
        "clicks": {"rows": [{**{k: r[k] for k in ("click_type", "title", "destination_type", "destination")},
                             "clicks": _num(r["clicks"])} for r in _rows(conn, "clicks", params)]},
        "agents": {"rows": [{"agent_id": r["agent_id"], "name": r["name"], "kind": r["kind"],
                             "views": _num(r["views"]), "positive": _num(r["positive"]),
                             "negative": _num(r["negative"])} for r in _rows(conn, "agents", params)]},
    }


def data_quality_summary(conn: duckdb.DuckDBPyConnection, params: ReportParams) -> dict:
    """Lines rejected and duplicates dropped on the export days of the period (all assistants)."""
    return {k: _num(v) for k, v in _rows(conn, "data_quality", params)[0].items()}


def format_table(report: dict, quality: dict | None = None) -> str:
    """A readable summary of the report for a terminal."""
    r = report
    lines = [
        f"Assistant {r['assistant_id']} ({r['timezone']}), {r['from']} to {r['to']}"
        + (f", channel {r['channel']}" if r["channel"] else ", all channels"),
        "",
    ]

    def fmt(v):
        return "-" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}")

    def row(label, value):
        lines.append(f"  {label:<34}{fmt(value):>14}")

    sections = [
        ("Users", [("active users", r["users"]["total"]), ("new", r["users"]["new"]),
                   ("returning", r["users"]["returning"])]),
        ("Messages", [("user messages", r["messages"]["user_messages"]),
                      ("per user", r["messages"]["per_user"]), ("per chat", r["messages"]["per_chat"])]),
        ("Chats", [("chats", r["chats"]["total"]),
                   ("average duration (s)", r["chats"]["avg_duration_seconds"]),
                   ("per user", r["chats"]["per_user"])]),
        ("Handover", [("requests", r["handover"]["requests"]), ("rate", r["handover"]["rate"]),
                      ("chats with requests", r["handover"]["chats_with_requests"]),
                      ("chats without requests", r["handover"]["chats_without_requests"])]
         + [(f"trigger: {k}", v) for k, v in r["handover"]["by_trigger"].items()]
         + [(f"mode: {k}", v) for k, v in r["handover"]["by_mode"].items()]),
        ("Engagement", [("returning rate", r["engagement"]["returning_rate"])]),
        ("Feedback", [(k, r["feedback"][k]) for k in ("reviewable", "positive", "negative", "no_feedback")]
         + [(f"chats {k}", v) for k, v in r["feedback"]["chats_by_class"].items()]),
        ("CSAT", [("votes", r["csat"]["votes"]), ("score", r["csat"]["score"])]
         + [(f"score {k}", v) for k, v in r["csat"]["distribution"].items()]),
    ]
    for title, rows in sections:
        lines.append(title)
        for label, value in rows:
            row(label, value)
    lines.append("Users by device")
    for d in r["users"]["by_device"][:10]:
        row(f"{d['device_type']} / {d['browser'] or '-'}", d["users"])
    busiest = sorted(r["traffic"]["cells"], key=lambda c: -c["messages"])[:3]
    lines.append("Traffic (busiest local hours)")
    days = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    for c in busiest:
        row(f"{days[c['weekday']]} {c['hour']:02d}:00", c["messages"])
    lines.append("Clicks (top 5)")
    for c in r["clicks"]["rows"][:5]:
        row(f"{c['click_type']}: {c['title']}"[:34], c["clicks"])
    lines.append("Agents / workflows (views, +, -)")
    for a in r["agents"]["rows"]:
        lines.append(f"  {(a['name'] or a['agent_id'])[:26]:<26} {a['kind'] or '-':<9}"
                     f"{a['views']:>9,} {a['positive']:>6,} {a['negative']:>6,}")
    if quality and quality.get("lines_rejected"):
        lines.append("")
        lines.append(
            f"Data quality: {quality['lines_rejected']:,} of {quality['lines_read']:,} lines rejected on the "
            f"period's {quality['export_days']} export days (see raw.rejected_lines)"
        )
    return "\n".join(lines)
