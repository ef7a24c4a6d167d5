"""One visit's events: a chat (or a greeting-only session) with its answers, clicks, ratings,
handovers, operator messages and CSAT votes, as (t_ms, event type, properties) items."""

from __future__ import annotations

from .draws import MINUTE_MS, Draws
from .profiles import REACTIONS, Assistant


class User:
    __slots__ = ("user_id", "user_agent", "thread", "busy_until")

    def __init__(self, user_id: str, user_agent: str | None, thread: str | None):
        self.user_id = user_id
        self.user_agent = user_agent
        self.thread = thread  # the WhatsApp conversation, which never changes
        self.busy_until = 0


class Session:
    """The events of one visit: a context shared by all of them and (t_ms, type, properties) items."""

    __slots__ = ("a", "channel", "user", "conversation", "style", "extra", "events")

    def __init__(self, a: Assistant, channel: str, user: User, conversation: str, style: str, extra):
        self.a = a
        self.channel = channel
        self.user = user
        self.conversation = conversation
        self.style = style
        self.extra = extra
        self.events: list[tuple[int, str, dict]] = []


def chat(d: Draws, s: Session, t: int, *, greet: bool) -> tuple[int, bool]:
    """Appends one chat (or a greeting-only session) to s; returns its end and whether it is a chat."""
    r = d.rng
    a, ch = s.a, s.channel
    web = ch == "web"
    if greet and ch in ("web", "voice"):
        _bot(d, s, t)  # the welcome message
        if r.random() < (0.12 if web else 0.05):
            return t, False  # opened, greeted, nothing more
        t += d.user_gap(ch)
    elif greet and ch == "whatsapp" and r.random() < 0.06:
        _bot(d, s, t)  # an outbound notification nobody answered
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
            _user(d, s, t, r.choice(a.quick_replies)[0], "quick_reply")
        else:
            if turn == 0 and r.random() < 0.2:
                _user(d, s, t, r.choice(a.hello))
                t += d.bot_gap()
                _bot(d, s, t)
                t += d.user_gap(ch)
            _user(d, s, t, r.choice(topic[2]))
        t += d.bot_gap()
        if r.random() < 0.025:  # asks for a person straight away
            t = _handover(d, s, t, after_fallback=False)
            handover = True
            break
        agent = topic[1]
        if agent and agent != active_agent and r.random() < 0.85:
            name, kind = d.agent(a, agent, t)
            s.events.append((t, "agent_triggered", {"agent_id": agent, "agent_name": name, "agent_kind": kind}))
            active_agent = agent
            t += r.randint(1_000, 2_000)
        fallback = r.random() < (0.13 if agent is None else 0.05)
        fallbacks += fallback
        reviewable = web and r.random() < 0.6
        msg = _bot(d, s, t, reviewable=reviewable, fallback=fallback,
                        agent=None if fallback or agent != active_agent else agent)
        if reviewable:
            _feedback(d, s, msg, t, fallback)
        if ch == "whatsapp" and r.random() < 0.02:
            s.events.append((t + r.randint(5_000, 120_000), "reaction",
                             {"message_id": msg["message_id"], "emoji": r.choice(REACTIONS)}))
        if r.random() < 0.25:  # a second bubble, e.g. "anything else?"
            t += r.randint(1_000, 2_500)
            _bot(d, s, t, agent=active_agent if agent == active_agent else None)
        if fallback and r.random() < 0.4:
            t += max(d.user_gap(ch) // 3, 1_500)
            t = _handover(d, s, t, after_fallback=True)
            handover = True
            break
        if web and r.random() < 0.12:
            title, dtype, dest = r.choice(a.links)
            t += r.randint(5_000, 60_000)
            s.events.append((t, "click", {"click_type": "link", "title": title,
                                          "destination_type": dtype, "destination": dest}))
        if turn < n_turns - 1:
            t += d.user_gap(ch)

    if not handover and r.random() < 0.35:
        t += d.user_gap(ch)
        _user(d, s, t, r.choice(a.thanks))
        t += d.bot_gap()
        _bot(d, s, t)
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


def _bot(d: Draws, s: Session, t: int, *, reviewable=False, fallback=False, agent=None) -> dict:
    p = {"message_id": d.message_id()}
    if s.channel == "web":  # the widget always says; other channels only when true
        p["reviewable"] = reviewable
        p["is_fallback"] = fallback
    else:
        if reviewable:
            p["reviewable"] = True
        if fallback:
            p["is_fallback"] = True
    if agent:
        name, kind = d.agent(s.a, agent, t)
        p.update(agent_id=agent, agent_name=name, agent_kind=kind)
    s.events.append((t, "bot_message", p))
    return p


def _user(d: Draws, s: Session, t: int, text: str, input_kind: str | None = None) -> None:
    r = d.rng
    p = {"message_id": d.message_id(), "text": text}
    if input_kind is None and r.random() < 0.6:
        input_kind = {"web": "text", "voice": "voice"}.get(s.channel) or (
            "voice" if r.random() < 0.12 else "text")
    if input_kind:
        p["input"] = input_kind
    if r.random() < 0.004:
        p["locale"] = s.a.locale  # an extra property nobody asked for
    s.events.append((t, "user_message", p))


def _feedback(d: Draws, s: Session, msg: dict, t: int, fallback: bool) -> None:
    r = d.rng
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


def _handover(d: Draws, s: Session, t: int, after_fallback: bool) -> int:
    r = d.rng
    a = s.a
    if s.channel == "voice":
        via = "button" if r.random() < 0.2 else "message"  # "press 0"
    else:
        via = "button" if r.random() < (0.45 if after_fallback else 0.35) else "message"
    if via == "message":
        _user(d, s, t, r.choice(a.human))
        t += r.randint(1_000, 1_800)
    local_hour, wd, _ = d.local(a, t)
    open_now = a.business[0] <= local_hour < a.business[1] and wd <= a.business[2]
    mode = "human_takeover" if r.random() < (0.85 if open_now else 0.08) else "ticket"
    s.events.append((t, "handover_request", {"via": via, "mode": mode}))
    t += d.bot_gap()
    _bot(d, s, t)  # "connecting you" / "I opened a ticket"
    if mode == "ticket":
        if r.random() < 0.4:
            t += d.user_gap(s.channel)
            _user(d, s, t, r.choice(a.thanks))
        return t
    if r.random() < 0.1:
        return t  # gave up waiting
    t += r.randint(20_000, 5 * MINUTE_MS)
    s.events.append((t, "operator_message", {"message_id": d.message_id()}))
    for _ in range(r.randint(1, 4)):
        t += d.user_gap(s.channel)
        _user(d, s, t, r.choice(a.details))
        t += r.randint(15_000, 150_000)
        s.events.append((t, "operator_message", {"message_id": d.message_id()}))
    return t
