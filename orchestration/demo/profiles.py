"""The demo's world: the assistants (their time zones, traffic, users' words, agents and links) and
the shape of their traffic (local hour, weekday, browsers)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Assistant:
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


ACME = Assistant(
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

GLOBEX = Assistant(
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

INITECH = Assistant(
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
UMBRELLA = Assistant(
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
HOURLY = (0.15, 0.10, 0.07, 0.06, 0.07, 0.14, 0.30, 0.55, 0.95, 1.40, 1.60, 1.55,
           1.25, 1.30, 1.50, 1.50, 1.40, 1.20, 1.00, 0.90, 0.80, 0.65, 0.45, 0.28)
HOURLY_SUM = sum(HOURLY)
WEEKDAY = (1.15, 1.10, 1.05, 1.00, 0.92)

# (user agent, weight): desktop and mobile browsers as uap-core parses them.
USER_AGENTS = (
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
    # rarer ones, each a family of its own to uap-core though its string names Chrome or Safari
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 [FBAN/FBIOS;FBAV/400.0.0.0]", 2),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/140.0.0.0 YaBrowser/25.10.0.0 Safari/537.36", 1),
    ("Mozilla/5.0 (Linux; Android 14; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/140.0.0.0 Mobile Safari/537.36 OPR/90.0.4750.80", 1),
    ("Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Silk/140.2.1 like Chrome/140.0.0.0 Safari/537.36", 1),
)
UA_CUM = list(accumulate(weight for _, weight in USER_AGENTS))  # cumulative weights for one draw

WIDGET_VERSIONS = ("web-widget/4.12.1", "web-widget/4.13.0-beta.2")
REACTIONS = ("👍", "❤️", "😂", "🙏", "😮")
