"""The report of interfaces.md, read from the marts with SQL alone: every KPI and ratio is computed
by DuckDB; Python only arranges the rows into the JSON shape. The dashboard uses these same queries.

Every query takes the named parameters $assistant, $date_from, $date_to and $channel (NULL: all);
those that also give the previous period take $prev_from, its first day.
A chat is in the period when its local start date is; a user is active when they have such a chat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import ReportError

# A chat (or a user-day row) is in the period by its local start date.
_CHATS_IN_PERIOD = """
    assistant_id = $assistant
    and chat_local_date between $date_from and $date_to
    and ($channel is null or channel = $channel)
"""

# The report's modules cover the period and the one before it (kpis.md "Previous period": the n
# days just before $date_from, from $prev_from) in one pass: the queries below read both ranges at
# once and label each row with `is_current`, so that a report costs one scan of each mart, not two.
_CHATS_IN_EITHER_PERIOD = """
    assistant_id = $assistant
    and chat_local_date between $prev_from and $date_to
    and ($channel is null or channel = $channel)
"""
_IS_CURRENT = "(chat_local_date >= $date_from)"

# Both periods' labels, so that a period without rows still gets its zeros.
_PERIODS = "select * from (values (true), (false)) as p(is_current)"

# One row per user active in a period: one hash aggregation over fct_users gives every user
# count (active, new/returning, with handover requests, by device). A user's device fields are the
# same on all their rows (from dim_users), so any_value is exact. A user active in both periods
# has a row in each.
_ACTIVE_USERS = f"""
    select
        {_IS_CURRENT} as is_current,
        user_id,
        min(case when $channel is null then first_chat_local_date
                 else first_chat_local_date_in_channel end) as first_chat_local_date,
        sum(chats_with_handover_requests) > 0 as has_handover_requests,
        any_value(coalesce(user_agent_device_type, $channel, device_type)) as device_type,
        any_value(browser) as browser
    from marts.fct_users
    where {_CHATS_IN_EITHER_PERIOD}
    group by all
"""

QUERIES: dict[str, str] = {
    # One row per period (is_current true: [$date_from, $date_to]; false: the previous period).
    "headline": f"""
        with periods as ({_PERIODS}),
        active as ({_ACTIVE_USERS}),
        users as (
            select
                is_current,
                count(*) as total,
                count(*) filter (where first_chat_local_date
                                       >= case when is_current then $date_from else $prev_from end) as new,
                count(*) filter (where first_chat_local_date
                                       < case when is_current then $date_from else $prev_from end) as returning,
                count(*) filter (where has_handover_requests) as with_handover_requests
            from active
            group by is_current
        ),
        by_device as (
            select is_current, device_type, browser, count(*) as users
            from active
            group by is_current, device_type, browser
        ),
        device_list as (
            -- interfaces.md order: users descending, then device_type, then browser
            select is_current,
                   list(struct_pack(device_type, browser, users)
                        order by users desc, device_type, browser nulls last) as by_device
            from by_device
            group by is_current
        ),
        chats as (
            select {_IS_CURRENT} as is_current,
                   count(*) as chats, avg(duration_seconds) as avg_duration_seconds
            from marts.fct_chats where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        messages as (
            select {_IS_CURRENT} as is_current, sum(user_messages) as user_messages
            from marts.fct_messages where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        handover as (
            select
                {_IS_CURRENT} as is_current,
                sum(requests) as requests,
                count(*) filter (where has_requests) as chats_with_requests,
                count(*) filter (where not has_requests) as chats_without_requests,
                sum(direct_requests) as direct,
                sum(after_fallback_requests) as after_fallback,
                sum(operator_button_requests) as operator_button,
                sum(human_takeover_requests) as human_takeover,
                sum(ticket_requests) as ticket
            from marts.fct_handover where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        feedback as (
            select
                {_IS_CURRENT} as is_current,
                sum(reviewable) as reviewable,
                sum(positive) as positive,
                sum(negative) as negative,
                sum(no_feedback) as no_feedback,
                count(*) filter (where feedback_class = 'only_positive') as only_positive,
                count(*) filter (where feedback_class = 'more_positive') as more_positive,
                count(*) filter (where feedback_class = 'balanced') as balanced,
                count(*) filter (where feedback_class = 'more_negative') as more_negative,
                count(*) filter (where feedback_class = 'only_negative') as only_negative,
                count(*) filter (where feedback_class = 'no_feedback') as no_feedback_chats
            from marts.fct_feedback where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        csat as (
            select
                {_IS_CURRENT} as is_current,
                count(*) as votes,
                avg(score) as score,
                count(*) filter (where score = 1) as s1,
                count(*) filter (where score = 2) as s2,
                count(*) filter (where score = 3) as s3,
                count(*) filter (where score = 4) as s4,
                count(*) filter (where score = 5) as s5
            from marts.fct_csat where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        outcomes as (
            select
                {_IS_CURRENT} as is_current,
                count(*) as chats,
                count(*) filter (where outcome = 'resolved') as resolved,
                count(*) filter (where outcome = 'abandoned') as abandoned,
                count(*) filter (where outcome = 'escalated') as escalated
            from marts.fct_outcomes where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        answers as (
            select
                {_IS_CURRENT} as is_current,
                sum(answers) as answers,
                sum(fallbacks) as fallbacks,
                count(*) filter (where has_fallback) as chats_with_fallback
            from marts.fct_answers where {_CHATS_IN_EITHER_PERIOD}
            group by all
        ),
        -- The cohort: the period's new users. Without a channel filter, each user's row of the
        -- channel of their first chat (one per user); with one, that channel's rows, by the first
        -- chat in it (a user's first chat in a channel is never before their first chat overall).
        cohort as (
            select
                case when $channel is null then first_chat_local_date
                     else first_chat_local_date_in_channel end as cohort_date,
                case when $channel is null then returned_within_7d
                     else returned_within_7d_in_channel end as returned_7d,
                case when $channel is null then returned_within_30d
                     else returned_within_30d_in_channel end as returned_30d
            from marts.fct_retention
            where assistant_id = $assistant
              and first_chat_local_date <= $date_to
              and (($channel is null and is_first_chat_channel) or channel = $channel)
        ),
        retention as (
            select
                cohort_date >= $date_from as is_current,
                count(*) as cohort,
                count(*) filter (where returned_7d) as returned_7d,
                count(*) filter (where returned_30d) as returned_30d
            from cohort
            where cohort_date between $prev_from and $date_to
            group by all
        )
        select
            periods.is_current,
            coalesce(users.total, 0) as users_total,
            coalesce(users.new, 0) as users_new,
            coalesce(users.returning, 0) as users_returning,
            coalesce(messages.user_messages, 0) as user_messages,
            round(messages.user_messages / nullif(users.total, 0), 6) as messages_per_user,
            round(messages.user_messages / nullif(chats.chats, 0), 6) as messages_per_chat,
            coalesce(chats.chats, 0) as chats_total,
            round(chats.avg_duration_seconds, 6) as chats_avg_duration_seconds,
            round(chats.chats / nullif(users.total, 0), 6) as chats_per_user,
            coalesce(handover.requests, 0) as handover_requests,
            round(users.with_handover_requests / nullif(users.total, 0), 6) as handover_rate,
            coalesce(handover.chats_with_requests, 0) as chats_with_requests,
            coalesce(handover.chats_without_requests, 0) as chats_without_requests,
            coalesce(handover.direct, 0) as direct,
            coalesce(handover.after_fallback, 0) as after_fallback,
            coalesce(handover.operator_button, 0) as operator_button,
            coalesce(handover.human_takeover, 0) as human_takeover,
            coalesce(handover.ticket, 0) as ticket,
            round(users.returning / nullif(users.total, 0), 6) as returning_rate,
            coalesce(feedback.reviewable, 0) as reviewable,
            coalesce(feedback.positive, 0) as positive,
            coalesce(feedback.negative, 0) as negative,
            coalesce(feedback.no_feedback, 0) as no_feedback,
            coalesce(feedback.only_positive, 0) as only_positive,
            coalesce(feedback.more_positive, 0) as more_positive,
            coalesce(feedback.balanced, 0) as balanced,
            coalesce(feedback.more_negative, 0) as more_negative,
            coalesce(feedback.only_negative, 0) as only_negative,
            coalesce(feedback.no_feedback_chats, 0) as no_feedback_chats,
            coalesce(csat.votes, 0) as csat_votes,
            round(csat.score, 6) as csat_score,
            coalesce(csat.s1, 0) as s1, coalesce(csat.s2, 0) as s2, coalesce(csat.s3, 0) as s3,
            coalesce(csat.s4, 0) as s4, coalesce(csat.s5, 0) as s5,
            coalesce(device_list.by_device, []) as by_device,
            coalesce(outcomes.resolved, 0) as resolved,
            coalesce(outcomes.abandoned, 0) as abandoned,
            coalesce(outcomes.escalated, 0) as escalated,
            round((outcomes.resolved + outcomes.abandoned) / nullif(outcomes.chats, 0), 6) as containment_rate,
            round(outcomes.resolved / nullif(outcomes.chats, 0), 6) as resolution_rate,
            round(outcomes.abandoned / nullif(outcomes.chats, 0), 6) as abandonment_rate,
            round(outcomes.escalated / nullif(outcomes.chats, 0), 6) as escalation_rate,
            coalesce(answers.answers, 0) as answers,
            coalesce(answers.fallbacks, 0) as fallbacks,
            round(answers.fallbacks / nullif(answers.answers, 0), 6) as fallback_rate,
            coalesce(answers.chats_with_fallback, 0) as chats_with_fallback,
            coalesce(retention.cohort, 0) as retention_cohort,
            coalesce(retention.returned_7d, 0) as returned_7d,
            coalesce(retention.returned_30d, 0) as returned_30d,
            round(retention.returned_7d / nullif(retention.cohort, 0), 6) as rate_7d,
            round(retention.returned_30d / nullif(retention.cohort, 0), 6) as rate_30d
        from periods
        left join users using (is_current)
        left join chats using (is_current)
        left join messages using (is_current)
        left join handover using (is_current)
        left join feedback using (is_current)
        left join csat using (is_current)
        left join device_list using (is_current)
        left join outcomes using (is_current)
        left join answers using (is_current)
        left join retention using (is_current)
    """,
    "traffic": f"""
        with cells as (
            select is_current, weekday, hour
            from ({_PERIODS}), range(1, 8) as w(weekday), range(0, 24) as h(hour)
        ),
        counted as (
            select local_date >= $date_from as is_current, local_weekday, local_hour,
                   sum(messages) as messages
            from marts.fct_traffic
            where assistant_id = $assistant
              and local_date between $prev_from and $date_to
              and ($channel is null or channel = $channel)
            group by all
        )
        select cells.is_current, cells.weekday, cells.hour, coalesce(counted.messages, 0) as messages
        from cells
        left join counted
            on cells.is_current = counted.is_current
            and cells.weekday = counted.local_weekday and cells.hour = counted.local_hour
        order by cells.is_current, cells.weekday, cells.hour
    """,
    "clicks": f"""
        select {_IS_CURRENT} as is_current, click_type, title, destination_type, destination,
               sum(clicks) as clicks
        from marts.fct_clicks
        where {_CHATS_IN_EITHER_PERIOD}
        group by all
        order by clicks desc, click_type, title, destination_type, destination
    """,
    "agents": f"""
        with counted as (
            select {_IS_CURRENT} as is_current, agent_id,
                   sum(views) as views, sum(positive) as positive, sum(negative) as negative
            from marts.fct_agents
            where {_CHATS_IN_EITHER_PERIOD}
            group by all
            having sum(views) > 0 or sum(positive) > 0 or sum(negative) > 0
        )
        select counted.is_current, counted.agent_id, dim_agents.agent_name as name,
               dim_agents.agent_kind as kind, counted.views, counted.positive, counted.negative
        from counted
        left join marts.dim_agents
            on dim_agents.assistant_id = $assistant and dim_agents.agent_id = counted.agent_id
        order by counted.views desc, counted.agent_id
    """,
    # kpis.md "Daily series": one row per local date of the period, zeros included, by chat start
    # date. Users of a date are distinct users of that date's chats (one date is the grain, so a
    # distinct count per date is exact); a user is new on the date of their first chat (in the
    # channel, under a channel filter).
    "daily_series": f"""
        with days as (
            select cast(d as date) as local_date
            from range(cast($date_from as timestamp), cast($date_to as timestamp) + interval 1 day,
                       interval 1 day) as t(d)
        ),
        users as (
            select chat_local_date,
                   count(distinct user_id) as users,
                   count(distinct user_id) filter (
                       where chat_local_date = case when $channel is null then first_chat_local_date
                                                    else first_chat_local_date_in_channel end) as new_users,
                   sum(chats) as chats
            from marts.fct_users where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        messages as (
            select chat_local_date, sum(user_messages) as user_messages
            from marts.fct_messages where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        handover as (
            select chat_local_date, sum(requests) as handover_requests
            from marts.fct_handover where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        outcomes as (
            select chat_local_date, count(*) filter (where outcome = 'escalated') as escalated_chats
            from marts.fct_outcomes where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        answers as (
            select chat_local_date, sum(fallbacks) as fallbacks
            from marts.fct_answers where {_CHATS_IN_PERIOD} group by chat_local_date
        ),
        csat as (
            select chat_local_date, count(*) as csat_votes, avg(score) as csat_score
            from marts.fct_csat where {_CHATS_IN_PERIOD} group by chat_local_date
        )
        select strftime(days.local_date, '%Y-%m-%d') as date,
               coalesce(users.users, 0) as users,
               coalesce(users.new_users, 0) as new_users,
               coalesce(users.chats, 0) as chats,
               coalesce(messages.user_messages, 0) as user_messages,
               coalesce(handover.handover_requests, 0) as handover_requests,
               coalesce(outcomes.escalated_chats, 0) as escalated_chats,
               coalesce(answers.fallbacks, 0) as fallbacks,
               coalesce(csat.csat_votes, 0) as csat_votes,
               round(csat.csat_score, 6) as csat_score
        from days
        left join users on users.chat_local_date = days.local_date
        left join messages on messages.chat_local_date = days.local_date
        left join handover on handover.chat_local_date = days.local_date
        left join outcomes on outcomes.chat_local_date = days.local_date
        left join answers on answers.chat_local_date = days.local_date
        left join csat on csat.chat_local_date = days.local_date
        order by days.local_date
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


def previous_period(params: ReportParams) -> tuple[dt.date, dt.date]:
    """kpis.md "Previous period": the n days just before `from`, for a period of n days."""
    days = (params.date_to - params.date_from).days + 1
    return params.date_from - dt.timedelta(days=days), params.date_from - dt.timedelta(days=1)


def _period_rows(conn, name: str, params: ReportParams) -> list[dict]:
    """A query that covers both periods: its rows, each labelled `is_current`."""
    sql = QUERIES[name]
    values = {**params.sql(), "prev_from": previous_period(params)[0]}
    cur = conn.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def _modules(h: dict, traffic: list[dict], clicks: list[dict], agents: list[dict]) -> dict:
    """Every module object of one period, from its headline row and its traffic, click and agent rows."""
    n = {k: _num(v) for k, v in h.items() if k != "by_device"}
    return {
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
                               "messages": _num(r["messages"])} for r in traffic]},
        "clicks": {"rows": [{**{k: r[k] for k in ("click_type", "title", "destination_type", "destination")},
                             "clicks": _num(r["clicks"])} for r in clicks]},
        "agents": {"rows": [{"agent_id": r["agent_id"], "name": r["name"], "kind": r["kind"],
                             "views": _num(r["views"]), "positive": _num(r["positive"]),
                             "negative": _num(r["negative"])} for r in agents]},
        "outcomes": {k: n[k] for k in ("resolved", "abandoned", "escalated", "containment_rate",
                                       "resolution_rate", "abandonment_rate", "escalation_rate")},
        "answers": {k: n[k] for k in ("answers", "fallbacks", "fallback_rate", "chats_with_fallback")},
        "retention": {"cohort": n["retention_cohort"], "returned_7d": n["returned_7d"],
                      "returned_30d": n["returned_30d"], "rate_7d": n["rate_7d"], "rate_30d": n["rate_30d"]},
    }


def build_report(conn: duckdb.DuckDBPyConnection, params: ReportParams) -> dict:
    validate_filters(conn, assistant=params.assistant, date_from=params.date_from, date_to=params.date_to,
                     channel=params.channel)
    timezone = assistant_timezone(conn, params.assistant)
    # Each query reads both periods at once; its rows are split here by their `is_current` label.
    rows = {name: _period_rows(conn, name, params) for name in ("headline", "traffic", "clicks", "agents")}

    def modules(is_current: bool) -> dict:
        headline = next(r for r in rows["headline"] if r["is_current"] == is_current)
        traffic, clicks, agents = ([r for r in rows[name] if r["is_current"] == is_current]
                                   for name in ("traffic", "clicks", "agents"))
        return _modules(headline, traffic, clicks, agents)

    previous_from, previous_to = previous_period(params)
    return {
        "assistant_id": params.assistant,
        "timezone": timezone,
        "from": params.date_from.isoformat(),
        "to": params.date_to.isoformat(),
        "channel": params.channel,
        **modules(True),
        "daily": [{k: _num(v) if k != "date" else v for k, v in r.items()}
                  for r in _rows(conn, "daily_series", params)],
        "previous": {"from": previous_from.isoformat(), "to": previous_to.isoformat(), **modules(False)},
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
        ("Outcomes", [(k.replace("_", " "), v) for k, v in r["outcomes"].items()]),
        ("Answers", [(k.replace("_", " "), v) for k, v in r["answers"].items()]),
        ("Retention of new users", [(k.replace("_", " "), v) for k, v in r["retention"].items()]),
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
    lines.append("Daily (users, new, chats, user messages, handover requests, escalated, fallbacks, csat votes)")
    for d in r["daily"]:
        lines.append(f"  {d['date']}  " + " ".join(
            f"{d[k]:>8,}" for k in ("users", "new_users", "chats", "user_messages", "handover_requests",
                                    "escalated_chats", "fallbacks", "csat_votes")))
    p = r["previous"]
    lines.append(f"Previous period {p['from']} to {p['to']}")
    for label, value in [("active users", p["users"]["total"]), ("chats", p["chats"]["total"]),
                         ("user messages", p["messages"]["user_messages"]),
                         ("handover requests", p["handover"]["requests"]), ("csat score", p["csat"]["score"]),
                         ("resolution rate", p["outcomes"]["resolution_rate"]),
                         ("fallback rate", p["answers"]["fallback_rate"]),
                         ("retention rate 7d", p["retention"]["rate_7d"])]:
        row(label, value)
    if quality and quality.get("lines_rejected"):
        lines.append("")
        lines.append(
            f"Data quality: {quality['lines_rejected']:,} of {quality['lines_read']:,} lines rejected on the "
            f"period's {quality['export_days']} export days (see raw.rejected_lines)"
        )
    return "\n".join(lines)
