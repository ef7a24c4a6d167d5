"""Device type and browser of each distinct User-Agent string, with the uap-core rules (ua-parser).

Loops over distinct UA strings (a small dimension), never over events. Rebuilt each run, so a
string whose events a re-delivery removed disappears, exactly as in a full rebuild.
"""

import pandas as pd
from ua_parser import parse


def classify(user_agent: str) -> tuple[str, str]:
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else "Other"
    device_family = result.device.family if result.device else "Other"
    has_mobile = "Mobile" in user_agent
    if device_family == "iPad" or (os_family == "Android" and not has_mobile):
        device_type = "tablet"
    elif os_family in ("iOS", "Android") or has_mobile:
        device_type = "mobile"
    else:
        device_type = "desktop"
    return device_type, browser


def model(dbt, session):
    dbt.config(materialized="table")
    events = dbt.ref("int_events_deduplicated")
    agents = events.filter("user_agent is not null").project("user_agent").distinct()
    strings = [row[0] for row in agents.fetchall()]
    rows = [(ua, *classify(ua)) for ua in strings]
    return pd.DataFrame(rows, columns=["user_agent", "device_type", "browser"]).astype(
        {"user_agent": "string", "device_type": "string", "browser": "string"}
    )
