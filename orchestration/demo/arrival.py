"""When each event reaches an export: the UTC day received (late by 1-7 days for a few, more for
very few), how its timestamp is written, and each export day's lines in arrival order."""

from __future__ import annotations

import time

from .chat import Session
from .draws import DAY_MS, HOUR_MS, MINUTE_MS, Draws, dumps
from .profiles import Assistant

_LATE_DAYS_WEIGHTS = (40, 20, 12, 9, 7, 6, 6)  # 1..7 days late
_LATE_CUM = [sum(_LATE_DAYS_WEIGHTS[: i + 1]) for i in range(7)]
_SESSION_LATE = {"voice": 0.045, "whatsapp": 0.012, "web": 0.004}  # a whole session arrives late


def export_days(d: Draws, sessions: list[Session]) -> tuple[list[list[tuple[int, int, str, dict]]], int]:
    """Per export day, (received_ms, seq, line, event) sorted by arrival; and the late count."""
    r = d.rng
    days: list[list] = [[] for _ in range(d.n_days)]
    seq = late = 0
    for s in sessions:
        a, u = s.a, s.user
        s_k = _late_days(d) if r.random() < _SESSION_LATE[s.channel] else 0
        # One delay per session, so that its lines stay in order when they arrive together.
        latency = r.randint(50, 2_500)
        backlog = r.randint(0, 3 * HOUR_MS)
        for t, etype, props in s.events:
            if t >= d.t_stop:
                continue  # not received yet: it belongs to a future export
            occ_day = t // DAY_MS
            k = s_k
            if not k:
                x = r.random()
                if x < (0.03 if etype == "feedback" else 0.01):
                    k = _late_days(d)
                elif x > 0.9996:
                    k = r.randint(8, 21)  # shows up in a backfill
            if occ_day + k > d.day_end:
                k = 0
            e = {
                "event_id": d.uuid(),
                "event_type": etype,
                "occurred_at": _timestamp(d, a, t, s.style),
                "assistant_id": a.id,
                "channel": s.channel,
                "user_id": u.user_id,
                "conversation_id": s.conversation,
            }
            if u.user_agent:
                e["user_agent"] = u.user_agent
            e["properties"] = props
            if s.extra:
                e.update(s.extra)
            if k:
                late += 1
                received = t + k * DAY_MS + (backlog if k == s_k else r.randint(0, 3 * HOUR_MS))
                received = min(received, (occ_day + k + 1) * DAY_MS - 1)
            else:
                received = t + latency
                received = min(received, (occ_day + 1) * DAY_MS - 1)
            seq += 1
            days[occ_day + k - d.day0].append((received, seq, dumps(e), e))
    for day in days:
        day.sort(key=lambda x: (x[0], x[1]))
    return days, late


def _timestamp(d: Draws, a: Assistant, t: int, style: str) -> str:
    if style.startswith("off"):
        off = d.local(a, t)[2]
        local = t + off * MINUTE_MS
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local // 1000))
        sign = "+" if off >= 0 else "-"
        suffix = f"{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
    else:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000))
        suffix = "Z"
    if style.endswith("ms"):
        base += f".{t % 1000:03d}"
    return base + suffix


def _late_days(d: Draws) -> int:
    x = d.rng.random() * _LATE_CUM[-1]
    return next(i + 1 for i, c in enumerate(_LATE_CUM) if x < c)
