"""The one source of randomness and the simulated period, shared by every part of the generator.

Every draw goes through `Draws.rng` in a fixed order, which is what makes the output reproducible:
moving a draw from one place to another changes every file written after it.
"""

from __future__ import annotations

import datetime
import json
import math
from random import Random
from zoneinfo import ZoneInfo

from .profiles import SEEDED_ASSISTANTS, UNKNOWN_ASSISTANT, Assistant

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000
_EPOCH = datetime.date(1970, 1, 1)

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_UUID_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_BITS = (0x4000 << 64) | (0x8000 << 48)


def dumps(obj) -> str:
    """One export line: compact JSON, UTF-8 text left as it is."""
    return _ENCODER.encode(obj)


def uuid4(rng: Random) -> str:
    """A random (version 4) UUID drawn from rng."""
    h = f"{rng.getrandbits(128) & _UUID_MASK | _UUID_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Draws:
    """The seeded Random, the period simulated, and the small draws every stage makes."""

    def __init__(self, seed: int, first_day: datetime.date, end_date: datetime.date):
        self.rng = Random(seed)
        self.day0 = (first_day - _EPOCH).days
        self.day_end = (end_date - _EPOCH).days  # last export day, as days since the epoch
        self.t_start = self.day0 * DAY_MS
        self.t_stop = (self.day_end + 1) * DAY_MS
        self._local_cache: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._zones = {a.id: ZoneInfo(a.tz) for a in (*SEEDED_ASSISTANTS, UNKNOWN_ASSISTANT)}

    @property
    def n_days(self) -> int:
        return self.day_end - self.day0 + 1

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def uuid(self) -> str:
        return uuid4(self.rng)

    def message_id(self) -> str:
        return "msg_" + self.hex(64)

    def local(self, a: Assistant, t_ms: int) -> tuple[int, int, int]:
        """(local hour, iso weekday, offset minutes) of the assistant's zone at t_ms."""
        key = (a.id, t_ms // HOUR_MS)
        hit = self._local_cache.get(key)
        if hit is None:
            d = datetime.datetime.fromtimestamp(key[1] * 3600, self._zones[a.id])
            hit = (d.hour, d.isoweekday(), int(d.utcoffset().total_seconds()) // 60)
            self._local_cache[key] = hit
        return hit

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def user_gap(self, channel: str) -> int:
        r = self.rng
        if channel == "voice":
            return r.randint(2_000, 14_000)
        if channel == "whatsapp":
            return min(int(r.lognormvariate(10.6, 1.1)), 20 * MINUTE_MS) + 3_000  # median ~40 s
        return min(int(r.lognormvariate(9.9, 0.8)), 8 * MINUTE_MS) + 2_000  # median ~22 s

    def bot_gap(self) -> int:
        return self.rng.randint(1_000, 3_500)

    def agent(self, a: Assistant, agent_id: str, t_ms: int) -> tuple[str, str]:
        """(name, kind) of the agent at t_ms: a rename applies from its fraction of the period on."""
        for aid, name, kind in a.agents:
            if aid == agent_id:
                for rid, new_name, frac in a.renames:
                    if rid == agent_id and t_ms >= self.t_start + frac * (self.t_stop - self.t_start):
                        name = new_name
                return name, kind
        raise KeyError(agent_id)
