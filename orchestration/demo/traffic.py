"""Who visits when: sessions shaped by each assistant's local hour and weekday, new and returning
users per channel, and each visit's chat."""

from __future__ import annotations

import hashlib

from .chat import Session, User, chat
from .draws import DAY_MS, HOUR_MS, MINUTE_MS, Draws
from .profiles import (
    HOURLY,
    HOURLY_SUM,
    SEEDED_ASSISTANTS,
    UA_CUM,
    UNKNOWN_ASSISTANT,
    USER_AGENTS,
    WEEKDAY,
    WIDGET_VERSIONS,
    Assistant,
)


class Traffic:
    """Every session of the period, in the order simulated."""

    def __init__(self, d: Draws):
        self.d = d
        self.sessions: list[Session] = []
        # (assistant, channel) -> (users, tickets): tickets repeat a user once per visit.
        self.pools: dict[tuple[str, str], tuple[list[User], list[User]]] = {}

    def simulate(self) -> list[Session]:
        d, r = self.d, self.d.rng
        n_days = d.n_days
        for day in range(n_days):
            trend = 0.92 + 0.16 * day / max(n_days - 1, 1)  # a slowly growing product
            for hour in range(24):
                h_ms = (d.day0 + day) * DAY_MS + hour * HOUR_MS
                for a in SEEDED_ASSISTANTS:
                    local_hour, wd, _ = d.local(a, h_ms)
                    w_day = WEEKDAY[wd - 1] if wd <= 5 else a.weekend[wd - 6]
                    lam = a.sessions_per_day * trend * w_day * HOURLY[local_hour] / HOURLY_SUM
                    starts = sorted(h_ms + r.randrange(HOUR_MS) for _ in range(d.poisson(lam)))
                    for t0 in starts:
                        self._visit(a, r.choices(*zip(*a.channels, strict=True))[0], t0)
        # The assistant the seed does not know: two short visits.
        for day in sorted(r.sample(range(n_days), min(2, n_days))):
            self._visit(UNKNOWN_ASSISTANT, "web", (d.day0 + day) * DAY_MS + r.randint(13, 16) * HOUR_MS)
        return self.sessions

    def _visit(self, a: Assistant, channel: str, t0: int) -> None:
        d, r = self.d, self.d.rng
        user = self._pick_user(a, channel, t0)
        if channel == "whatsapp":
            conv = user.thread
        elif channel == "voice":
            conv = "call_" + d.hex(96)
        else:
            conv = d.uuid()
        extra = None
        if channel == "web" and r.random() < 0.02:
            extra = {"sdk_version": r.choice(WIDGET_VERSIONS)}
        s = Session(a, channel, user, conv, self._style(channel), extra)
        end, is_chat = chat(d, s, t0, greet=True)
        if channel == "web" and is_chat and r.random() < 0.06:
            # The window stayed open: the user comes back to it after more than 30 minutes.
            end, _ = chat(d, s, end + r.randint(35, 200) * MINUTE_MS, greet=False)
        s.events.sort(key=lambda e: e[0])
        user.busy_until = max(user.busy_until, end)
        self.sessions.append(s)

    def _new_user(self, a: Assistant, channel: str) -> User:
        d, r = self.d, self.d.rng
        if channel == "web":
            x = r.random() * UA_CUM[-1]
            ua = next(u for (u, _), c in zip(USER_AGENTS, UA_CUM, strict=True) if x < c)
            return User(d.hex(96), ua, None)
        if channel == "voice" and r.random() < 0.12:
            # Someone who also writes on WhatsApp calls from the same number: same hash.
            wa = self.pools.get((a.id, "whatsapp"))
            if wa and wa[0]:
                return User(r.choice(wa[0]).user_id, None, None)
        prefix, digits = a.phone
        phone = prefix + "".join(str(r.randrange(10)) for _ in range(digits))
        user = User(hashlib.sha256(phone.encode()).hexdigest(), None, None)
        if channel == "whatsapp":
            user.thread = "wa_" + d.hex(96)
        return user

    def _pick_user(self, a: Assistant, channel: str, t0: int) -> User:
        r = self.d.rng
        users, tickets = self.pools.setdefault((a.id, channel), ([], []))
        cap = {"web": 0.42, "whatsapp": 0.62, "voice": 0.30}.get(channel, 0.4)
        n = len(users)
        if n and r.random() < cap * n / (n + 80):
            u = r.choice(tickets)
            if u.busy_until < t0 - 45 * MINUTE_MS:
                tickets.append(u)  # the more someone comes back, the likelier again
                return u
        u = self._new_user(a, channel)
        users.append(u)
        tickets.append(u)
        return u

    def _style(self, channel: str) -> str:
        """How this session's timestamps are written: Z or a local offset, with or without ms."""
        x = self.d.rng.random()
        if channel == "web":
            return "Z" if x < 0.66 else "Zms" if x < 0.95 else "offms"
        if channel == "whatsapp":
            return "Z" if x < 0.88 else "off"
        return "Z" if x < 0.55 else "off" if x < 0.9 else "offms"
