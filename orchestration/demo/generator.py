"""A realistic, seeded generator of daily event exports (the input contract of events.md).

`generate_exports(out_dir)` simulates four weeks of three assistants talking to their users on
web, WhatsApp and voice, and writes what the platform would have exported: one `dt=YYYY-MM-DD`
folder per export day (the UTC day an event was *received*), each holding a gzip part and a plain
part. The data is meant to exercise every analytics module and every kind of bad input:

- traffic shaped by the local hour and weekday of each assistant's time zone, new users every day
  and a growing share of returning ones, real User-Agent strings on web;
- chats with quick-reply and link clicks, AI agents and workflows, fallback answers, handovers
  (by message or button, to a human or a ticket, some right after a fallback), operator messages,
  thumbs up/down that are changed or taken back (sometimes days later), CSAT votes (a few twice),
  greeting-only sessions, web windows with a >30 minute pause, WhatsApp threads spanning days;
- late events (about 2% arrive 1-7 days late, a very few more than 7 days), at-least-once
  duplicates (in the same file, another file, the next day; a few with different content), a few
  rejectable lines per day, unknown event types, unknown extra fields, an unknown assistant, a
  feedback for an answer that does not exist, and one empty extra file.

Everything is drawn from one `random.Random(seed)`: the same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from .arrival import export_days
from .deliveries import add_duplicates, add_oddities, split_into_parts
from .draws import Draws
from .profiles import SEEDED_ASSISTANTS, UNKNOWN_ASSISTANT
from .traffic import Traffic
from .writer import write_days

__all__ = ["DEMO_LAST_DAY", "generate_exports", "SEEDED_ASSISTANTS", "UNKNOWN_ASSISTANT"]

DEMO_LAST_DAY = datetime.date(2026, 11, 22)  # the demo's export days end here, whatever today is


def generate_exports(out_dir: Path, *, days: int = 28, seed: int = 7,
                     end_date: datetime.date = DEMO_LAST_DAY) -> dict:
    """Writes `days` export days ending at `end_date` under out_dir; returns a summary.

    Each `dt=YYYY-MM-DD` folder written is replaced as a whole. The summary counts every line
    written (`events`), the lines the contract rejects (`bad_lines`), the extra copies of events
    (`duplicates`) and the events exported after their occurrence's UTC day (`late_events`).
    `assistants` lists the seeded assistants simulated (the unknown one is not listed).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    first_day = end_date - datetime.timedelta(days=days - 1)
    draws = Draws(seed, first_day, end_date)
    # The stages draw from one Random in this order (the order is part of the output).
    sessions = Traffic(draws).simulate()
    per_day, late = export_days(draws, sessions)
    parts_by_day, events_by_day = split_into_parts(draws.rng, per_day)
    duplicates = add_duplicates(draws.rng, parts_by_day, events_by_day)
    bad_lines = add_oddities(draws.rng, parts_by_day, events_by_day)
    total = write_days(draws.rng, Path(out_dir), first_day, parts_by_day)
    return {
        "days": days,
        "events": total,
        "bad_lines": bad_lines,
        "duplicates": duplicates,
        "late_events": late,
        "assistants": [a.id for a in SEEDED_ASSISTANTS],
        "first_day": first_day.isoformat(),
        "last_day": end_date.isoformat(),
    }
