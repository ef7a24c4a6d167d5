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
import gzip
import hashlib
import io
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

__all__ = ["generate_exports", "SEEDED_ASSISTANTS", "UNKNOWN_ASSISTANT"]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000
_EPOCH = datetime.date(1970, 1, 1)

# --------------------------------------------------------------------------------------------
# The world: assistants, their users' words, their agents and links
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Assistant:
    id: str
    tz: str
    sessions_per_day: float
    channels: tuple  # ((channel, weight), ...)
    weekend: tuple  # (saturday, sunday) traffic multipliers
    business: tuple  # (first hour, last hour + 1, last iso weekday) when operators take chats
    phone: tuple  # (country prefix, digits after it)
    topics: tuple  # ((key, agent_id or None, (user texts, ...)), ...)
    hello: tuple
    thanks: tuple
    human: tuple  # ways of asking for a person
    details: tuple  # what users tell operators (some personal data)
    quick_replies: tuple  # ((title, answer id), ...)
    links: tuple  # ((title, destination_type, destination), ...)
    agents: tuple  # ((agent_id, name, kind), ...)
    renames: tuple = ()  # ((agent_id, new name, fraction of the period after which it applies), ...)
    locale: str = "en-US"
    max_turns: int = 8


ACME = _Assistant(
    id="acme-support",
    tz="Europe/Rome",
    sessions_per_day=115,
    channels=(("web", 0.60), ("whatsapp", 0.30), ("voice", 0.10)),
    weekend=(0.85, 0.65),
    business=(9, 19, 6),
    phone=("+393", 9),
    topics=(
        ("order_status", "order-tracking", (
            "Where is my order?", "Dov'è il mio ordine?", "My order 48213 hasn't arrived yet",
            "Quando arriva il pacco?", "Il corriere dice consegnato ma non ho ricevuto niente",
            "can I have the tracking number please", "Ordine n. 51877, è già partito?",
        )),
        ("billing", "billing", (
            "I was charged twice for the same order", "Ho ricevuto due addebiti sulla carta",
            "Can I get an invoice?", "Mi serve la fattura intestata alla mia azienda, P.IVA 01234567890",
            "Why did I pay shipping if the order was over 50 euro?", "Il rimborso non è ancora arrivato",
        )),
        ("returns", "returns-flow", (
            "I want to return a product", "Vorrei fare un reso", "How do I return shoes that don't fit?",
            "Il prodotto è arrivato rotto", "Posso cambiare la taglia?", "reso",
        )),
        ("shipping", None, (
            "How long does shipping take?", "Spedite in Svizzera?", "Quanto costa la spedizione in Sardegna?",
            "Do you deliver on Saturdays?", "Posso ritirare in negozio?",
        )),
        ("account", None, (
            "I can't log in", "Ho dimenticato la password", "Change my email to giulia.bianchi@example.com",
            "Come cancello il mio account?", "non ricevo la mail di conferma",
        )),
        ("other", None, (
            "Do you have a physical store in Milan?", "Posso pagare con Satispay?", "asdfgh",
            "Avete ancora le sneakers bianche taglia 42?", "Is the Black Friday discount still on?",
        )),
    ),
    hello=("ciao", "buongiorno", "hi", "hello", "salve"),
    thanks=("grazie", "grazie mille!", "thanks", "ok perfetto", "ok", "thank you, bye"),
    human=("Voglio parlare con un operatore", "operatore", "can I speak to a human?",
           "I want to talk to a real person", "passami un operatore per favore"),
    details=("Il numero d'ordine è 48213", "my email is marco.rossi@example.com",
             "Mi chiamo Giulia Bianchi, cell. 347 123 4567", "ok, aspetto", "it's the blue jacket, size M",
             "l'ho pagato con PayPal", "sì", "no, ancora niente"),
    quick_replies=(("Track my order", "ans_order_tracking"), ("Resi e rimborsi", "ans_returns"),
                   ("Shipping times", "ans_shipping_times"), ("Metodi di pagamento", "ans_payment_methods"),
                   ("Contattaci", "ans_contact")),
    links=(("Returns portal", "url", "https://www.acme.example/it/resi"),
           ("Track your parcel", "url", "https://track.acme.example/"),
           ("Size guide", "url", "https://www.acme.example/size-guide"),
           ("Call customer care", "phone", "+39 02 8088 1234"),
           ("Write to us", "email", "assistenza@acme.example")),
    agents=(("billing", "Billing agent", "agent"), ("returns-flow", "Returns workflow", "workflow"),
            ("order-tracking", "Order tracking agent", "agent")),
    locale="it-IT",
)

GLOBEX = _Assistant(
    id="globex-sales",
    tz="America/New_York",
    sessions_per_day=88,
    channels=(("web", 0.72), ("whatsapp", 0.10), ("voice", 0.18)),
    weekend=(0.50, 0.40),
    business=(8, 18, 5),
    phone=("+1", 10),
    topics=(
        ("pricing", "quote-builder", (
            "How much is the Pro plan?", "Can I get a quote for 50 seats?", "Do you offer nonprofit discounts?",
            "what's the price per user", "Is there an annual billing discount?",
        )),
        ("product", "product-advisor", (
            "Does Globex integrate with Salesforce?", "What's the difference between Pro and Enterprise?",
            "Is there an API?", "Can I export my data to CSV?", "do you support SSO with Okta",
        )),
        ("demo", "demo-booking", (
            "I'd like to book a demo", "Can someone show me the product Thursday at 2pm?",
            "Schedule a call with sales, my number is 212-555-0142", "demo please",
        )),
        ("security", None, (
            "Are you SOC 2 compliant?", "Where is our data hosted?", "Do you sign a DPA?",
        )),
        ("other", None, (
            "Are you hiring?", "Can I pay by wire transfer?", "lol", "Is this a bot?",
            "I need to cancel my subscription",
        )),
    ),
    hello=("hi", "hello", "hey there", "good morning"),
    thanks=("thanks!", "thank you", "great, thanks", "ok", "perfect"),
    human=("talk to sales", "I want to speak to a person", "agent", "representative please",
           "can a human call me back?"),
    details=("We're a team of about 40 people", "my email is j.smith@example.com", "Tuesday works",
             "Our budget is around $20k a year", "We use HubSpot today", "Call me at 917-555-0187", "sure"),
    quick_replies=(("See pricing", "ans_pricing"), ("Book a demo", "ans_book_demo"),
                   ("Compare plans", "ans_compare_plans"), ("Talk to sales", "ans_contact_sales")),
    links=(("Pricing page", "url", "https://globex.example/pricing"),
           ("Book a meeting", "url", "https://globex.example/demo"),
           ("Security whitepaper", "url", "https://globex.example/security.pdf"),
           ("Call sales", "phone", "+1 212 555 0199"),
           ("Email sales", "email", "sales@globex.example")),
    agents=(("quote-builder", "Quote builder", "workflow"), ("product-advisor", "Product advisor", "agent"),
            ("demo-booking", "Demo booking", "workflow")),
    renames=(("product-advisor", "Product expert", 0.6),),
    locale="en-US",
)

INITECH = _Assistant(
    id="initech-help",
    tz="Asia/Tokyo",
    sessions_per_day=65,
    channels=(("web", 0.70), ("whatsapp", 0.15), ("voice", 0.15)),
    weekend=(0.40, 0.30),
    business=(9, 18, 5),
    phone=("+8190", 8),
    topics=(
        ("password", "password-reset", (
            "パスワードを忘れました", "I'm locked out of my account", "パスワードをリセットしたい",
            "アカウントがロックされました",
        )),
        ("vpn", "it-helpdesk", (
            "VPNに接続できません", "VPN keeps disconnecting", "リモートデスクトップが遅いです",
            "Teams calls keep dropping on VPN",
        )),
        ("printer", "printer-fix", (
            "プリンターが印刷できない", "Printer on 3F says paper jam", "複合機でスキャンできません",
        )),
        ("software", None, (
            "Can I install Zoom?", "Officeのライセンスが切れました", "Excelが起動しません",
            "新しいPCはいつ届きますか",
        )),
        ("other", None, ("社内Wi-Fiのパスワードは？", "hello?", "会議室のモニターが映らない", "テスト")),
    ),
    hello=("こんにちは", "すみません", "hi", "お疲れ様です"),
    thanks=("ありがとうございます", "助かりました", "thanks", "了解です", "ok"),
    human=("担当者と話したい", "オペレーターをお願いします", "can I talk to someone from IT?", "人と話したい"),
    details=("社員番号は 20417 です", "my PC name is TKY-LT-0442", "3階の東側です",
             "はい", "山田です、内線 4410", "Windows 11 です"),
    quick_replies=(("パスワードリセット", "ans_password_reset"), ("VPNのトラブル", "ans_vpn"),
                   ("Printer help", "ans_printer"), ("Open a ticket", "ans_ticket")),
    links=(("IT portal", "url", "https://it.initech.example/portal"),
           ("VPN setup guide", "url", "https://it.initech.example/kb/vpn-setup"),
           ("Helpdesk phone", "phone", "+81 3 5555 0100"),
           ("Email IT", "email", "helpdesk@initech.example")),
    agents=(("it-helpdesk", "IT helpdesk agent", "agent"), ("password-reset", "Password reset", "workflow"),
            ("printer-fix", "Printer troubleshooting", "workflow")),
    locale="ja-JP",
)

# An assistant the seed does not list: a handful of events in the whole period.
UMBRELLA = _Assistant(
    id="umbrella-labs",
    tz="UTC",
    sessions_per_day=0,
    channels=(("web", 1.0),),
    weekend=(1.0, 1.0),
    business=(9, 17, 5),
    phone=("+44", 10),
    topics=(("results", None, ("Where can I download my lab results?", "Is the Raccoon City lab open today?")),),
    hello=("hi",),
    thanks=("thanks",),
    human=("operator",),
    details=("ok",),
    quick_replies=(("Lab results", "ans_results"),),
    links=(("Results portal", "url", "https://umbrella.example/results"),),
    agents=(),
    locale="en-GB",
    max_turns=1,
)

SEEDED_ASSISTANTS = (ACME, GLOBEX, INITECH)
UNKNOWN_ASSISTANT = UMBRELLA

# Local-hour and weekday shape of traffic (Monday first).
_HOURLY = (0.15, 0.10, 0.07, 0.06, 0.07, 0.14, 0.30, 0.55, 0.95, 1.40, 1.60, 1.55,
           1.25, 1.30, 1.50, 1.50, 1.40, 1.20, 1.00, 0.90, 0.80, 0.65, 0.45, 0.28)
_HOURLY_SUM = sum(_HOURLY)
_WEEKDAY = (1.15, 1.10, 1.05, 1.00, 0.92)

# (user agent, weight): desktop and mobile browsers as uap-core parses them.
_USER_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/142.0.0.0 Safari/537.36", 24),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/141.0.0.0 Safari/537.36", 6),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", 5),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:144.0) Gecko/20100101 Firefox/144.0", 1),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0", 8),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/26.1 Safari/605.1.15", 7),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/26.1 Mobile/15E148 Safari/604.1", 20),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/142.0.7444.46 Mobile/15E148 Safari/604.1", 2),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/142.0.0.0 Mobile Safari/537.36", 16),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36", 4),
    ("Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/26.1 Mobile/15E148 Safari/604.1", 4),
    ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/28.0 Chrome/130.0.0.0 Safari/537.36", 2),
)
_UA_CUM = []
_acc = 0
for _ua, _w in _USER_AGENTS:
    _acc += _w
    _UA_CUM.append(_acc)
del _acc

_WIDGET_VERSIONS = ("web-widget/4.12.1", "web-widget/4.13.0-beta.2")
_REACTIONS = ("👍", "❤️", "😂", "🙏", "😮")
_LATE_DAYS_WEIGHTS = (40, 20, 12, 9, 7, 6, 6)  # 1..7 days late
_LATE_CUM = [sum(_LATE_DAYS_WEIGHTS[: i + 1]) for i in range(7)]

_BAD_KINDS = (
    "truncated_json", "garbage", "json_array", "json_string", "missing_event_id", "empty_user_id",
    "naive_timestamp", "impossible_timestamp", "csat_out_of_range", "click_banner", "feedback_maybe",
)

# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


class _User:
    __slots__ = ("user_id", "user_agent", "thread", "busy_until")

    def __init__(self, user_id: str, user_agent: str | None, thread: str | None):
        self.user_id = user_id
        self.user_agent = user_agent
        self.thread = thread  # the WhatsApp conversation, which never changes
        self.busy_until = 0


class _Session:
    """The events of one visit: a context shared by all of them and (t_ms, type, properties) items."""

    __slots__ = ("a", "channel", "user", "conversation", "style", "extra", "events")

    def __init__(self, a: _Assistant, channel: str, user: _User, conversation: str, style: str, extra):
        self.a = a
        self.channel = channel
        self.user = user
        self.conversation = conversation
        self.style = style
        self.extra = extra
        self.events: list[tuple[int, str, dict]] = []


class _Generator:
    def __init__(self, seed: int, first_day: datetime.date, end_date: datetime.date):
        self.rng = Random(seed)
        self.first_day = first_day
        self.end_date = end_date
        self.day0 = (first_day - _EPOCH).days
        self.day_end = (end_date - _EPOCH).days  # last export day, as days since the epoch
        self.t_start = self.day0 * DAY_MS
        self.t_stop = (self.day_end + 1) * DAY_MS
        self.sessions: list[_Session] = []
        self.pools: dict[tuple[str, str], tuple[list[_User], list[_User]]] = {}
        self._local_cache: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._zones = {a.id: ZoneInfo(a.tz) for a in (*SEEDED_ASSISTANTS, UMBRELLA)}

    # ---- small helpers -------------------------------------------------------------------

    def _hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _uuid(self) -> str:
        return _uuid4(self.rng)

    def _mid(self) -> str:
        return "msg_" + self._hex(64)

    def _local(self, a: _Assistant, t_ms: int) -> tuple[int, int, int]:
        """(local hour, iso weekday, offset minutes) of the assistant's zone at t_ms."""
        key = (a.id, t_ms // HOUR_MS)
        hit = self._local_cache.get(key)
        if hit is None:
            d = datetime.datetime.fromtimestamp(key[1] * 3600, self._zones[a.id])
            hit = (d.hour, d.isoweekday(), int(d.utcoffset().total_seconds()) // 60)
            self._local_cache[key] = hit
        return hit

    def _poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _user_gap(self, channel: str) -> int:
        r = self.rng
        if channel == "voice":
            return r.randint(2_000, 14_000)
        if channel == "whatsapp":
            return min(int(r.lognormvariate(10.6, 1.1)), 20 * MINUTE_MS) + 3_000  # median ~40 s
        return min(int(r.lognormvariate(9.9, 0.8)), 8 * MINUTE_MS) + 2_000  # median ~22 s

    def _bot_gap(self) -> int:
        return self.rng.randint(1_000, 3_500)

    def _agent(self, a: _Assistant, agent_id: str, t_ms: int) -> tuple[str, str]:
        for aid, name, kind in a.agents:
            if aid == agent_id:
                for rid, new_name, frac in a.renames:
                    if rid == agent_id and t_ms >= self.t_start + frac * (self.t_stop - self.t_start):
                        name = new_name
                return name, kind
        raise KeyError(agent_id)

    def _new_user(self, a: _Assistant, channel: str) -> _User:
        r = self.rng
        if channel == "web":
            x = r.random() * _UA_CUM[-1]
            ua = next(u for (u, _), c in zip(_USER_AGENTS, _UA_CUM) if x < c)
            return _User(self._hex(96), ua, None)
        if channel == "voice" and r.random() < 0.12:
            # Someone who also writes on WhatsApp calls from the same number: same hash.
            wa = self.pools.get((a.id, "whatsapp"))
            if wa and wa[0]:
                return _User(r.choice(wa[0]).user_id, None, None)
        prefix, digits = a.phone
        phone = prefix + "".join(str(r.randrange(10)) for _ in range(digits))
        user = _User(hashlib.sha256(phone.encode()).hexdigest(), None, None)
        if channel == "whatsapp":
            user.thread = "wa_" + self._hex(96)
        return user

    def _pick_user(self, a: _Assistant, channel: str, t0: int) -> _User:
        r = self.rng
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
        x = self.rng.random()
        if channel == "web":
            return "Z" if x < 0.66 else "Zms" if x < 0.95 else "offms"
        if channel == "whatsapp":
            return "Z" if x < 0.88 else "off"
        return "Z" if x < 0.55 else "off" if x < 0.9 else "offms"

    # ---- traffic ---------------------------------------------------------------------------

    def simulate(self) -> None:
        r = self.rng
        n_days = self.day_end - self.day0 + 1
        for d in range(n_days):
            trend = 0.92 + 0.16 * d / max(n_days - 1, 1)  # a slowly growing product
            for hour in range(24):
                h_ms = (self.day0 + d) * DAY_MS + hour * HOUR_MS
                for a in SEEDED_ASSISTANTS:
                    local_hour, wd, _ = self._local(a, h_ms)
                    w_day = _WEEKDAY[wd - 1] if wd <= 5 else a.weekend[wd - 6]
                    lam = a.sessions_per_day * trend * w_day * _HOURLY[local_hour] / _HOURLY_SUM
                    starts = sorted(h_ms + r.randrange(HOUR_MS) for _ in range(self._poisson(lam)))
                    for t0 in starts:
                        self._visit(a, r.choices(*zip(*a.channels))[0], t0)
        # The assistant the seed does not know: two short visits.
        for d in sorted(r.sample(range(n_days), min(2, n_days))):
            self._visit(UMBRELLA, "web", (self.day0 + d) * DAY_MS + r.randint(13, 16) * HOUR_MS)

    def _visit(self, a: _Assistant, channel: str, t0: int) -> None:
        r = self.rng
        user = self._pick_user(a, channel, t0)
        if channel == "whatsapp":
            conv = user.thread
        elif channel == "voice":
            conv = "call_" + self._hex(96)
        else:
            conv = self._uuid()
        extra = None
        if channel == "web" and r.random() < 0.02:
            extra = {"sdk_version": r.choice(_WIDGET_VERSIONS)}
        s = _Session(a, channel, user, conv, self._style(channel), extra)
        end, is_chat = self._chat(s, t0, greet=True)
        if channel == "web" and is_chat and r.random() < 0.06:
            # The window stayed open: the user comes back to it after more than 30 minutes.
            end, _ = self._chat(s, end + r.randint(35, 200) * MINUTE_MS, greet=False)
        s.events.sort(key=lambda e: e[0])
        user.busy_until = max(user.busy_until, end)
        self.sessions.append(s)

    # ---- one chat --------------------------------------------------------------------------

    def _bot(self, s: _Session, t: int, *, reviewable=False, fallback=False, agent=None) -> dict:
        p = {"message_id": self._mid()}
        if s.channel == "web":  # the widget always says; other channels only when true
            p["reviewable"] = reviewable
            p["is_fallback"] = fallback
        else:
            if reviewable:
                p["reviewable"] = True
            if fallback:
                p["is_fallback"] = True
        if agent:
            name, kind = self._agent(s.a, agent, t)
            p.update(agent_id=agent, agent_name=name, agent_kind=kind)
        s.events.append((t, "bot_message", p))
        return p

    def _user(self, s: _Session, t: int, text: str, input_kind: str | None = None) -> None:
        r = self.rng
        p = {"message_id": self._mid(), "text": text}
        if input_kind is None and r.random() < 0.6:
            input_kind = {"web": "text", "voice": "voice"}.get(s.channel) or (
                "voice" if r.random() < 0.12 else "text")
        if input_kind:
            p["input"] = input_kind
        if r.random() < 0.004:
            p["locale"] = s.a.locale  # an extra property nobody asked for
        s.events.append((t, "user_message", p))

    def _feedback(self, s: _Session, msg: dict, t: int, fallback: bool) -> None:
        r = self.rng
        if r.random() >= 0.30:
            return
        value = "positive" if r.random() < (0.15 if fallback else 0.78) else "negative"
        t += r.randint(3_000, 90_000)
        s.events.append((t, "feedback", {"message_id": msg["message_id"], "value": value}))
        x = r.random()
        if x < 0.07:  # changed their mind
            t += r.randint(20_000, 15 * MINUTE_MS)
            s.events.append((t, "feedback", {"message_id": msg["message_id"],
                                             "value": "negative" if value == "positive" else "positive"}))
        elif x < 0.10:  # took it back
            t += r.randint(10_000, 10 * MINUTE_MS)
            s.events.append((t, "feedback", {"message_id": msg["message_id"], "value": None}))
        elif x < 0.115:  # came back to the page much later and changed it
            t += r.randint(2 * 60, 40 * 60) * MINUTE_MS
            s.events.append((t, "feedback", {"message_id": msg["message_id"],
                                             "value": "negative" if value == "positive" else "positive"}))

    def _handover(self, s: _Session, t: int, after_fallback: bool) -> int:
        r = self.rng
        a = s.a
        if s.channel == "voice":
            via = "button" if r.random() < 0.2 else "message"  # "press 0"
        else:
            via = "button" if r.random() < (0.45 if after_fallback else 0.35) else "message"
        if via == "message":
            self._user(s, t, r.choice(a.human))
            t += r.randint(1_000, 1_800)
        local_hour, wd, _ = self._local(a, t)
        open_now = a.business[0] <= local_hour < a.business[1] and wd <= a.business[2]
        mode = "human_takeover" if r.random() < (0.85 if open_now else 0.08) else "ticket"
        s.events.append((t, "handover_request", {"via": via, "mode": mode}))
        t += self._bot_gap()
        self._bot(s, t)  # "connecting you" / "I opened a ticket"
        if mode == "ticket":
            if r.random() < 0.4:
                t += self._user_gap(s.channel)
                self._user(s, t, r.choice(a.thanks))
            return t
        if r.random() < 0.1:
            return t  # gave up waiting
        t += r.randint(20_000, 5 * MINUTE_MS)
        s.events.append((t, "operator_message", {"message_id": self._mid()}))
        for _ in range(r.randint(1, 4)):
            t += self._user_gap(s.channel)
            self._user(s, t, r.choice(a.details))
            t += r.randint(15_000, 150_000)
            s.events.append((t, "operator_message", {"message_id": self._mid()}))
        return t

    def _chat(self, s: _Session, t: int, *, greet: bool) -> tuple[int, bool]:
        """Appends one chat (or a greeting-only session) to s; returns its end and whether it is a chat."""
        r = self.rng
        a, ch = s.a, s.channel
        web = ch == "web"
        if greet and ch in ("web", "voice"):
            self._bot(s, t)  # the welcome message
            if r.random() < (0.12 if web else 0.05):
                return t, False  # opened, greeted, nothing more
            t += self._user_gap(ch)
        elif greet and ch == "whatsapp" and r.random() < 0.06:
            self._bot(s, t)  # an outbound notification nobody answered
            return t, False

        topic = r.choice(a.topics)
        active_agent = None
        fallbacks = 0
        handover = False
        n_turns = 1 + min(int(r.expovariate(1 / 2.2)), a.max_turns - 1)
        for turn in range(n_turns):
            if turn and r.random() < 0.3:
                topic = r.choice(a.topics)
            if web and r.random() < (0.35 if turn == 0 else 0.15):
                title, answer = r.choice(a.quick_replies)
                s.events.append((t, "click", {"click_type": "quick_reply", "title": title,
                                              "destination_type": "answer", "destination": answer}))
            elif ch == "whatsapp" and r.random() < 0.15:
                self._user(s, t, r.choice(a.quick_replies)[0], "quick_reply")
            else:
                if turn == 0 and r.random() < 0.2:
                    self._user(s, t, r.choice(a.hello))
                    t += self._bot_gap()
                    self._bot(s, t)
                    t += self._user_gap(ch)
                self._user(s, t, r.choice(topic[2]))
            t += self._bot_gap()
            if r.random() < 0.025:  # asks for a person straight away
                t = self._handover(s, t, after_fallback=False)
                handover = True
                break
            agent = topic[1]
            if agent and agent != active_agent and r.random() < 0.85:
                name, kind = self._agent(a, agent, t)
                s.events.append((t, "agent_triggered", {"agent_id": agent, "agent_name": name, "agent_kind": kind}))
                active_agent = agent
                t += r.randint(1_000, 2_000)
            fallback = r.random() < (0.13 if agent is None else 0.05)
            fallbacks += fallback
            reviewable = web and r.random() < 0.6
            msg = self._bot(s, t, reviewable=reviewable, fallback=fallback,
                            agent=None if fallback or agent != active_agent else agent)
            if reviewable:
                self._feedback(s, msg, t, fallback)
            if ch == "whatsapp" and r.random() < 0.02:
                s.events.append((t + r.randint(5_000, 120_000), "reaction",
                                 {"message_id": msg["message_id"], "emoji": r.choice(_REACTIONS)}))
            if r.random() < 0.25:  # a second bubble, e.g. "anything else?"
                t += r.randint(1_000, 2_500)
                self._bot(s, t, agent=active_agent if agent == active_agent else None)
            if fallback and r.random() < 0.4:
                t += max(self._user_gap(ch) // 3, 1_500)
                t = self._handover(s, t, after_fallback=True)
                handover = True
                break
            if web and r.random() < 0.12:
                title, dtype, dest = r.choice(a.links)
                t += r.randint(5_000, 60_000)
                s.events.append((t, "click", {"click_type": "link", "title": title,
                                              "destination_type": dtype, "destination": dest}))
            if turn < n_turns - 1:
                t += self._user_gap(ch)

        if not handover and r.random() < 0.35:
            t += self._user_gap(ch)
            self._user(s, t, r.choice(a.thanks))
            t += self._bot_gap()
            self._bot(s, t)
        if r.random() < {"web": 0.24, "whatsapp": 0.18, "voice": 0.14}[ch] * (1.5 if handover else 1):
            weights = ((15, 20, 25, 25, 15) if fallbacks else (8, 10, 17, 30, 35) if handover
                       else (3, 3, 10, 30, 54))
            score = r.choices((1, 2, 3, 4, 5), weights)[0]
            t += r.randint(5_000, 40_000)
            s.events.append((t, "csat", {"score": score}))
            if r.random() < 0.05:  # voted again
                t += r.randint(3_000, 60_000)
                s.events.append((t, "csat", {"score": r.choice([x for x in (1, 2, 3, 4, 5) if x != score])}))
        return t, True

    # ---- export ----------------------------------------------------------------------------

    def _timestamp(self, a: _Assistant, t: int, style: str) -> str:
        if style.startswith("off"):
            off = self._local(a, t)[2]
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

    def _late_days(self) -> int:
        x = self.rng.random() * _LATE_CUM[-1]
        return next(i + 1 for i, c in enumerate(_LATE_CUM) if x < c)

    def build_days(self) -> tuple[list[list[tuple[int, int, str, dict]]], int]:
        """Per export day, (received_ms, seq, line, event) sorted by arrival; and the late count."""
        r = self.rng
        n_days = self.day_end - self.day0 + 1
        days: list[list] = [[] for _ in range(n_days)]
        seq = late = 0
        session_late = {"voice": 0.045, "whatsapp": 0.012, "web": 0.004}
        for s in self.sessions:
            a, u = s.a, s.user
            s_k = self._late_days() if r.random() < session_late[s.channel] else 0
            # One delay per session, so that its lines stay in order when they arrive together.
            latency = r.randint(50, 2_500)
            backlog = r.randint(0, 3 * HOUR_MS)
            for t, etype, props in s.events:
                if t >= self.t_stop:
                    continue  # not received yet: it belongs to a future export
                occ_day = t // DAY_MS
                k = s_k
                if not k:
                    x = r.random()
                    if x < (0.03 if etype == "feedback" else 0.01):
                        k = self._late_days()
                    elif x > 0.9996:
                        k = r.randint(8, 21)  # shows up in a backfill
                if occ_day + k > self.day_end:
                    k = 0
                e = {
                    "event_id": self._uuid(),
                    "event_type": etype,
                    "occurred_at": self._timestamp(a, t, s.style),
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
                days[occ_day + k - self.day0].append((received, seq, _dumps(e), e))
        for day in days:
            day.sort(key=lambda x: (x[0], x[1]))
        return days, late


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(obj) -> str:
    return _ENCODER.encode(obj)


def _uuid4(rng: Random) -> str:
    """A random (version 4) UUID drawn from rng."""
    h = f"{rng.getrandbits(128) & _UUID_MASK | _UUID_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_BITS = (0x4000 << 64) | (0x8000 << 48)


def _bad_line(kind: str, template: dict, rng: Random) -> str:
    e = json.loads(_dumps(template))  # a fresh copy of a real event of the day
    e["event_id"] = _uuid4(rng)
    if kind == "truncated_json":
        text = _dumps(e)
        return text[: rng.randint(20, len(text) - 10)]
    if kind == "garbage":
        return rng.choice(("<html><body><h1>502 Bad Gateway</h1></body></html>",
                           "event_id=3f2a;event_type=user_message", "\x1b[0m ERROR exporter: timeout"))
    if kind == "json_array":
        return "[" + _dumps(e) + "]"
    if kind == "json_string":
        return _dumps("heartbeat " + e["occurred_at"])
    if kind == "missing_event_id":
        del e["event_id"]
        return _dumps(e)
    if kind == "empty_user_id":
        e["user_id"] = ""
        return _dumps(e)
    if kind == "naive_timestamp":
        e["occurred_at"] = e["occurred_at"][:19]  # no offset
        return _dumps(e)
    if kind == "impossible_timestamp":
        e["occurred_at"] = e["occurred_at"][:8] + "31T25:61:00Z"
        return _dumps(e)
    if kind == "csat_out_of_range":
        e["event_type"], e["properties"] = "csat", {"score": rng.choice((0, 6, 4.5))}
        return _dumps(e)
    if kind == "click_banner":
        e["event_type"] = "click"
        e["properties"] = {"click_type": "banner", "title": "Black Friday -30%",
                           "destination_type": "url", "destination": "https://example.com/promo"}
        return _dumps(e)
    if kind == "feedback_maybe":
        e["event_type"], e["properties"] = "feedback", {"message_id": "msg_" + f"{rng.getrandbits(64):016x}",
                                                         "value": "maybe"}
        return _dumps(e)
    raise ValueError(kind)


def _altered(e: dict, rng: Random) -> str:
    """A re-delivery of e with the same event_id but different content (same instant and meaning)."""
    e = json.loads(_dumps(e))
    x = rng.random()
    if e["event_type"] == "user_message" and "text" in e["properties"] and x < 0.6:
        e["properties"]["text"] += " (edited)"
    elif e["occurred_at"].endswith("Z") and x < 0.8:
        e["occurred_at"] = e["occurred_at"][:-1] + "+00:00"
    else:
        e["redelivery"] = 1
    return _dumps(e)


def _write(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.write_bytes(data)


def generate_exports(out_dir: Path, *, days: int = 28, seed: int = 7,
                     end_date: datetime.date = datetime.date(2026, 11, 22)) -> dict:
    """Writes `days` export days ending at `end_date` under out_dir; returns a summary.

    Each `dt=YYYY-MM-DD` folder written is replaced as a whole. The summary counts every line
    written (`events`), the lines the contract rejects (`bad_lines`), the extra copies of events
    (`duplicates`) and the events exported after their occurrence's UTC day (`late_events`).
    `assistants` lists the seeded assistants simulated (the unknown one is not listed).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    out_dir = Path(out_dir)
    first_day = end_date - datetime.timedelta(days=days - 1)
    gen = _Generator(seed, first_day, end_date)
    gen.simulate()
    per_day, late = gen.build_days()
    rng = gen.rng

    # Split each day into parts, in arrival order.
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

    # At-least-once delivery: exact copies in the same file, another file, or the next day.
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
        # Now and then a copy whose content differs.
        if events_by_day[d] and rng.random() < 0.4:
            e = rng.choice(events_by_day[d])
            q = rng.randrange(len(parts))
            inserts.append((d, q, len(parts[q]), _altered(e, rng)))
    # Apply from the back so positions stay valid.
    for d, p, pos, line in sorted(inserts, key=lambda x: (x[0], x[1], -x[2])):
        parts_by_day[d][p].insert(pos, line)
        duplicates += 1

    # Valid oddities and bad lines.
    bad_lines = 0
    kinds = list(_BAD_KINDS)
    rng.shuffle(kinds)
    k_index = 0
    for d, parts in enumerate(parts_by_day):
        events = events_by_day[d]
        if not events:
            continue
        web_events = [e for e in events if e["channel"] == "web" and e["assistant_id"] != UMBRELLA.id]
        if web_events and rng.random() < 0.35:
            # A rating for an answer no bot_message has (valid line, unknown answer).
            base = rng.choice(web_events)
            orphan = {k: base[k] for k in ("event_type", "occurred_at", "assistant_id", "channel",
                                           "user_id", "conversation_id", "user_agent")}
            orphan = {"event_id": _uuid4(rng), **orphan,
                      "event_type": "feedback",
                      "properties": {"message_id": "msg_" + f"{rng.getrandbits(64):016x}", "value": "negative"}}
            q = rng.randrange(len(parts))
            parts[q].insert(rng.randint(0, len(parts[q])), _dumps(orphan))
        n_bad = max(1, round(len(events) * 0.002 + rng.uniform(-1, 1)))
        for _ in range(n_bad):
            line = _bad_line(kinds[k_index % len(kinds)], rng.choice(events), rng)
            k_index += 1
            q = rng.randrange(len(parts))
            parts[q].insert(rng.randint(0, len(parts[q])), line)
            bad_lines += 1

    # Write, replacing each day's folder as a whole.
    out_dir.mkdir(parents=True, exist_ok=True)
    empty_day = rng.randrange(len(parts_by_day))
    total = 0
    for d, parts in enumerate(parts_by_day):
        day = first_day + datetime.timedelta(days=d)
        folder = out_dir / f"dt={day.isoformat()}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for p, lines in enumerate(parts):
            _write(folder / (f"part-{p:04d}.jsonl" + ("" if p % 2 else ".gz")), lines)
            total += len(lines)
        if d == empty_day:
            (folder / "part-0009.jsonl").write_bytes(b"")

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
