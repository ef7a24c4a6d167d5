"""The loader settles most lines with one short condition before the CASE that names a reject's
reason (orchestration/load/validation.py). That shortcut must never let a bad line through: for every
field and property of events.md, broken in every way a JSON value can be, the reason with the
shortcut equals the reason without it. The reasons themselves are tested through the CLI in
tests/test_load.py."""

from __future__ import annotations

import copy
import json

import duckdb

from orchestration.load.validation import (
    ALL_ENVELOPE,
    PROPERTY_NAMES,
    PROPERTY_RULES,
    extracted_lines_sql,
    reason_case_sql,
)

# 2**63 + 3 is an integer to JSON and to DuckDB (UBIGINT), and no BIGINT
VALUES = [None, "", "x", "text", "agent", "positive", "message", "ticket", "quick_reply", "answer",
          0, 1, 5, 6, -1, 4.5, 3.0, 2**63 + 3, True, False, [], ["x"], {}, {"a": 1}]
ABSENT = object()
EXPORT_DAY = "2026-11-23"
# around the edges of a valid occurred_at for export day 2026-11-23 (latest: 2026-11-25 00:00 UTC);
# the last one ends with a line break, which a regular expression's `$` may let through
TIMESTAMPS = ["2026-02-30T10:00:00Z", "2026-11-23t10:00:00z", "2026-11-23T10:00:00", "2026-11-23T10:00:00+24:00",
              "2026-11-23T10:00:00+23:60", "2026-11-23T10:00:00-23:59", "2026-11-25T00:00:00Z",
              "2026-11-25T00:00:00.000001Z", "2026-11-24T23:00:00-01:00", "9999-12-31T23:59:59Z",
              "2026-11-23T10:00:00Z\n"]


def valid_event(event_type: str) -> dict:
    props = {}
    for name, kind, arg in PROPERTY_RULES.get(event_type, []):
        if kind.startswith("required"):
            props[name] = arg[0] if kind.endswith("enum") else (3 if kind == "required_int_range" else "v")
    return {"event_id": "e1", "event_type": event_type, "occurred_at": "2026-11-23T10:00:00Z",
            "assistant_id": "acme-support", "channel": "web", "user_id": "u1", "conversation_id": "c1",
            "user_agent": "Mozilla/5.0", "properties": props}


def lines() -> list[str]:
    out = ["", "not json", "[1]", "null", '"s"', "{}"]
    for event_type in [*PROPERTY_RULES, "screen_view"]:
        base = valid_event(event_type)
        out.append(json.dumps(base))
        for field in ALL_ENVELOPE:
            for value in [ABSENT, *VALUES, *TIMESTAMPS]:
                e = copy.deepcopy(base)
                if value is ABSENT:
                    e.pop(field, None)
                else:
                    e[field] = value
                out.append(json.dumps(e))
        for name in PROPERTY_NAMES:
            for value in [ABSENT, *VALUES, "workflow", "link", "voice", "negative", "human_takeover"]:
                e = copy.deepcopy(base)
                if value is ABSENT:
                    e["properties"].pop(name, None)
                else:
                    e["properties"][name] = value
                out.append(json.dumps(e))
    return out + list(SURROGATE_ESCAPES)


def test_the_shortcut_names_the_same_reason_as_the_full_case():
    conn = duckdb.connect()
    conn.execute("create table export_lines (file_name varchar, line_number bigint, line varchar, "
                 "invalid_utf8 boolean, damaged_gzip boolean)")
    # every line once as read, and the valid-looking ones again as if their bytes were not UTF-8, and
    # as if their gzip member's check had failed
    every_line = lines()
    texts = every_line + every_line[:50] * 2
    not_utf8 = [False] * len(every_line) + [True] * 50 + [False] * 50
    damaged = [False] * (len(every_line) + 50) + [True] * 50
    # one statement (executemany runs one per row: seconds for these thousands)
    conn.execute("insert into export_lines select 'f', unnest(range(len($texts))), unnest($texts), unnest($not_utf8), "
                 "unnest($damaged)", {"texts": texts, "not_utf8": not_utf8, "damaged": damaged})
    rows = conn.execute(
        f"""
        with x as ({extracted_lines_sql('export_lines')})
        select line, {reason_case_sql(fast_exit=True)} as fast, {reason_case_sql(fast_exit=False)} as full
        from x
        """,
        {"export_day": EXPORT_DAY},
    ).fetchall()
    differ = [(line, fast, full) for line, fast, full in rows if fast is not full and fast != full]
    assert not differ, differ[:5]
    # the lines exercise both outcomes, and most reasons
    reasons = {full for _, _, full in rows}
    assert None in reasons and len(reasons) > 40, sorted(map(str, reasons))
    assert {"damaged_gzip_member", "invalid_utf8", "invalid_timestamp", "occurred_in_future"} <= reasons
    # an integer score beyond BIGINT is outside 1..5 too (it once passed: its cast gave NULL)
    huge_score = json.dumps({**valid_event("csat"), "properties": {"score": 2**63 + 3}})
    assert [full for line, _, full in rows if line == huge_score] == ["invalid_value:csat.score"]


# What DuckDB's JSON parser reads and JSON has not (RFC 8259): such a line is invalid_json, as on
# Spark, whose parser is strict. The same characters inside strings are text, and the line valid.
VALID_LINE = json.dumps(valid_event("user_message"))
NOT_JSON = [
    VALID_LINE[:-1] + ",}",  # a comma before the closing brace
    VALID_LINE[:-1] + ",\n\t }",
    VALID_LINE[:-1] + ', "extra": [1, 2,]}',
    VALID_LINE[:-1] + ', "extra": NaN}',  # in a field the contract does not read
    VALID_LINE[:-1] + ', "extra": {"deep": [-Infinity]}}',
    VALID_LINE[:-1] + ', "extra": inf}',
    VALID_LINE[:-1] + ', "extra": -nAn}',
    VALID_LINE[:-1] + ', "extra": 4.5, "other": INF}',
    VALID_LINE[:-1] + ', "text\\\\": NaN}',  # a string ending in an escaped backslash, then NaN
]
STILL_JSON = [
    VALID_LINE[:-1] + ', "extra": "a,}"}',
    VALID_LINE[:-1] + ', "extra": "NaN, Infinity, information, banana"}',
    VALID_LINE[:-1] + ', "extra": "say \\"NaN\\",}"}',
    VALID_LINE[:-1] + ', "extra": 4.5, "more": 1e999, "none": null, "yes": true, "list": []}',
]


def test_a_trailing_comma_or_nan_is_invalid_json_and_the_same_in_a_string_is_text():
    for line in NOT_JSON:
        try:
            json.loads(line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        except ValueError:
            continue
        raise AssertionError(f"the case is JSON after all: {line}")
    conn = duckdb.connect()
    conn.execute("create table export_lines (file_name varchar, line_number bigint, line varchar, "
                 "invalid_utf8 boolean, damaged_gzip boolean)")
    conn.execute("insert into export_lines select 'f', unnest(range(len($texts))), unnest($texts), false, false",
                 {"texts": NOT_JSON + STILL_JSON})
    reasons = dict(conn.execute(
        f"select line, {reason_case_sql()} from ({extracted_lines_sql('export_lines')})",
        {"export_day": EXPORT_DAY},
    ).fetchall())
    assert {line: reasons[line] for line in NOT_JSON} == {line: "invalid_json" for line in NOT_JSON}
    assert {line: reasons[line] for line in STILL_JSON} == {line: None for line in STILL_JSON}


def with_text(raw: str) -> str:
    """VALID_LINE with a `text` property written as `raw` (JSON string content, escapes as written)."""
    return VALID_LINE[:-2] + f', "text": "{raw}"}}}}'


# A string may escape half of a UTF-16 surrogate pair alone (RFC 8259 section 7), as a producer
# writes a text cut in the middle of an emoji; both engines' parsers refuse it. The loader keeps each
# lone half as the six characters of its escape and loads the line (docs/decisions.md). Each line:
# the `text` it loads with, or its reason where it is not JSON for another reason.
SURROGATE_ESCAPES = {
    with_text("cut \\ud83d"): "cut \\ud83d",  # a high half alone
    with_text("\\ude00 first"): "\\ude00 first",  # a low half alone
    with_text("\\uD83D\\ud83d\\ude00"): "\\uD83D\U0001f600",  # a lone half, then a pair
    with_text("\\\\\\ud83d"): "\\\\ud83d",  # an escaped backslash, then a lone half
    with_text("\\\\ud83d"): "\\ud83d",  # an escaped backslash, then text: no escape, as before
    with_text("\\ud83d\\ude00"): "\U0001f600",  # a whole pair: its character, as before
    VALID_LINE[:-2] + ', "\\udbff": 1}}': None,  # in a key: the line loads (it has no text)
    with_text("cut \\ud83d")[:-1] + ', "extra": NaN}': "invalid_json",  # not JSON for another reason
    with_text("cut \\ud83d") + ",": "invalid_json",
}


def test_a_lone_surrogate_escape_is_kept_as_text_and_the_line_loads():
    conn = duckdb.connect()
    conn.execute("create table export_lines (file_name varchar, line_number bigint, line varchar, "
                 "invalid_utf8 boolean, damaged_gzip boolean)")
    conn.execute("insert into export_lines select 'f', unnest(range(len($texts))), unnest($texts), false, false",
                 {"texts": list(SURROGATE_ESCAPES)})
    rows = conn.execute(
        f"select line, {reason_case_sql()}, s_e_properties from ({extracted_lines_sql('export_lines')})",
        {"export_day": EXPORT_DAY},
    ).fetchall()
    loaded = {line: json.loads(props).get("text") if reason is None else reason for line, reason, props in rows}
    assert loaded == SURROGATE_ESCAPES
