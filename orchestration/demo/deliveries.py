"""What goes wrong on the way: each day split into files, at-least-once duplicates (some with
different content), a rating for an answer that does not exist, and rejectable lines."""

from __future__ import annotations

import json
from random import Random

from .draws import dumps, uuid4
from .profiles import UNKNOWN_ASSISTANT

_BAD_KINDS = (
    "truncated_json", "garbage", "json_array", "json_string", "missing_event_id", "empty_user_id",
    "naive_timestamp", "impossible_timestamp", "csat_out_of_range", "click_banner", "feedback_maybe",
)


def split_into_parts(rng: Random, per_day: list[list[tuple]]) -> tuple[list[list[list[str]]], list[list[dict]]]:
    """Each day's lines cut into two or three files in arrival order; and each day's events."""
    parts_by_day: list[list[list[str]]] = []
    events_by_day: list[list[dict]] = []
    for items in per_day:
        lines = [x[2] for x in items]
        n = len(lines)
        if rng.random() < 0.2 and n > 10:
            c1, c2 = int(n * rng.uniform(0.4, 0.6)), int(n * rng.uniform(0.7, 0.9))
            parts = [lines[:c1], lines[c1:c2], lines[c2:]]
        else:
            c = int(n * rng.uniform(0.55, 0.85))
            parts = [lines[:c], lines[c:]]
        parts_by_day.append(parts)
        events_by_day.append([x[3] for x in items])
    return parts_by_day, events_by_day


def add_duplicates(rng: Random, parts_by_day: list[list[list[str]]], events_by_day: list[list[dict]]) -> int:
    """At-least-once delivery: exact copies in the same file, another file, or the next day; now and
    then a copy whose content differs. Returns the number of copies added."""
    duplicates = 0
    inserts: list[tuple[int, int, int, str]] = []
    for d, parts in enumerate(parts_by_day):
        for p, lines in enumerate(parts):
            for i, line in enumerate(lines):
                if rng.random() >= 0.005:
                    continue
                x = rng.random()
                if x < 0.45:
                    inserts.append((d, p, rng.randint(i + 1, min(i + 300, len(lines))), line))
                elif x < 0.8 or d + 1 >= len(parts_by_day):
                    q = rng.randrange(len(parts))
                    inserts.append((d, q, rng.randint(0, len(parts[q])), line))
                else:
                    q = rng.randrange(len(parts_by_day[d + 1]))
                    inserts.append((d + 1, q, rng.randint(0, len(parts_by_day[d + 1][q])), line))
        if events_by_day[d] and rng.random() < 0.4:
            e = rng.choice(events_by_day[d])
            q = rng.randrange(len(parts))
            inserts.append((d, q, len(parts[q]), _altered(e, rng)))
    # Apply from the back so positions stay valid.
    for d, p, pos, line in sorted(inserts, key=lambda x: (x[0], x[1], -x[2])):
        parts_by_day[d][p].insert(pos, line)
        duplicates += 1
    return duplicates


def add_oddities(rng: Random, parts_by_day: list[list[list[str]]], events_by_day: list[list[dict]]) -> int:
    """Valid oddities (a rating for an unknown answer) and bad lines; returns the bad lines added."""
    bad_lines = 0
    kinds = list(_BAD_KINDS)
    rng.shuffle(kinds)
    k_index = 0
    for d, parts in enumerate(parts_by_day):
        events = events_by_day[d]
        if not events:
            continue
        web_events = [e for e in events if e["channel"] == "web" and e["assistant_id"] != UNKNOWN_ASSISTANT.id]
        if web_events and rng.random() < 0.35:
            # A rating for an answer no bot_message has (valid line, unknown answer).
            base = rng.choice(web_events)
            orphan = {k: base[k] for k in ("event_type", "occurred_at", "assistant_id", "channel",
                                           "user_id", "conversation_id", "user_agent")}
            orphan = {"event_id": uuid4(rng), **orphan,
                      "event_type": "feedback",
                      "properties": {"message_id": "msg_" + f"{rng.getrandbits(64):016x}", "value": "negative"}}
            q = rng.randrange(len(parts))
            parts[q].insert(rng.randint(0, len(parts[q])), dumps(orphan))
        n_bad = max(1, round(len(events) * 0.002 + rng.uniform(-1, 1)))
        for _ in range(n_bad):
            line = _bad_line(kinds[k_index % len(kinds)], rng.choice(events), rng)
            k_index += 1
            q = rng.randrange(len(parts))
            parts[q].insert(rng.randint(0, len(parts[q])), line)
            bad_lines += 1
    return bad_lines


def _bad_line(kind: str, template: dict, rng: Random) -> str:
    e = json.loads(dumps(template))  # a fresh copy of a real event of the day
    e["event_id"] = uuid4(rng)
    if kind == "truncated_json":
        text = dumps(e)
        return text[: rng.randint(20, len(text) - 10)]
    if kind == "garbage":
        return rng.choice(("<html><body><h1>502 Bad Gateway</h1></body></html>",
                           "event_id=3f2a;event_type=user_message", "\x1b[0m ERROR exporter: timeout"))
    if kind == "json_array":
        return "[" + dumps(e) + "]"
    if kind == "json_string":
        return dumps("heartbeat " + e["occurred_at"])
    if kind == "missing_event_id":
        del e["event_id"]
        return dumps(e)
    if kind == "empty_user_id":
        e["user_id"] = ""
        return dumps(e)
    if kind == "naive_timestamp":
        e["occurred_at"] = e["occurred_at"][:19]  # no offset
        return dumps(e)
    if kind == "impossible_timestamp":
        e["occurred_at"] = e["occurred_at"][:8] + "31T25:61:00Z"
        return dumps(e)
    if kind == "csat_out_of_range":
        e["event_type"], e["properties"] = "csat", {"score": rng.choice((0, 6, 4.5))}
        return dumps(e)
    if kind == "click_banner":
        e["event_type"] = "click"
        e["properties"] = {"click_type": "banner", "title": "Black Friday -30%",
                           "destination_type": "url", "destination": "https://example.com/promo"}
        return dumps(e)
    if kind == "feedback_maybe":
        e["event_type"], e["properties"] = "feedback", {"message_id": "msg_" + f"{rng.getrandbits(64):016x}",
                                                         "value": "maybe"}
        return dumps(e)
    raise ValueError(kind)


def _altered(e: dict, rng: Random) -> str:
    """A re-delivery of e with the same event_id but different content (same instant and meaning)."""
    e = json.loads(dumps(e))
    x = rng.random()
    if e["event_type"] == "user_message" and "text" in e["properties"] and x < 0.6:
        e["properties"]["text"] += " (edited)"
    elif e["occurred_at"].endswith("Z") and x < 0.8:
        e["occurred_at"] = e["occurred_at"][:-1] + "+00:00"
    else:
        e["redelivery"] = 1
    return dumps(e)

