"""The load (issue "Foundation"): every line of an export ends up loaded or rejected, and the
data-quality mart counts it once.

Tested through the public interfaces only: `assistant-analytics refresh` and the tables it
publishes (`raw.*`, `marts.data_quality_daily`). Every expected number is worked out by hand from
the tiny exports below (see the comment next to it); none is computed with the code under test.

One module-scoped warehouse holds five export days and is built with ONE `refresh --all`:

    2026-11-22  edge cases of the line format: CRLF line ends, whitespace-only lines with tabs,
                a lower-case RFC 3339 timestamp (each in its own file, asserted on its own)
    2026-11-23  bad input: one file with every kind of bad line of events.md, blank lines
    2026-11-24  files: .jsonl and .jsonl.gz together, ignored files, empty and damaged files
    2026-11-26  duplicates in one file and across two files (a.jsonl < b.jsonl)
    2026-11-27  duplicates of 2026-11-26 events, in a file whose name sorts first ("0.jsonl")

Empty export folders, the re-delivery scenario and the command-line errors use their own
workspaces (an empty folder that broke the load must not take every other test down with it).
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import json
import shutil

import duckdb
import pytest
from conftest import REPO, Workspace, event, slow_fixture, write_export

DQ_COLUMNS = [
    "export_date",
    "lines_read",
    "events_loaded",
    "duplicates_dropped",
    "lines_rejected",
    "unknown_event_types",
    "late_events",
    "orphan_feedback",
    "unknown_assistant_events",
    "damaged_files",
    "rejects_by_reason",
]

BLANK = object()  # marks a blank line in a hand-made file
VALID = None  # marks a line that must be loaded


def dumps(obj) -> str:
    return json.dumps(obj)


def ev(eid, etype="user_message", at="2026-11-23T10:00:00Z", **kw) -> dict:
    """A valid event; user/bot/operator messages get a message_id unless one is given."""
    if etype in ("user_message", "bot_message", "operator_message") and "message_id" not in kw:
        kw["message_id"] = f"m-{eid}"
    return event(eid, etype, at, **kw)


def without(e: dict, key: str) -> dict:
    e = copy.deepcopy(e)
    del e[key]
    return e


def with_(e: dict, **changes) -> dict:
    e = copy.deepcopy(e)
    e.update(changes)
    return e


def without_prop(e: dict, key: str) -> dict:
    e = copy.deepcopy(e)
    del e["properties"][key]
    return e


def dq_rows(ws: Workspace) -> dict[str, dict]:
    rows = ws.query(f"select {', '.join(DQ_COLUMNS)} from marts.data_quality_daily order by export_date")
    out = {}
    for row in rows:
        r = dict(zip(DQ_COLUMNS, row))
        assert isinstance(r["export_date"], dt.date), r
        r["rejects_by_reason"] = json.loads(r["rejects_by_reason"])
        out[r["export_date"].isoformat()] = r
    return out


def assert_invariant(ws: Workspace) -> None:
    rows = dq_rows(ws)
    assert rows, "marts.data_quality_daily is empty"
    for day, r in rows.items():
        assert r["lines_read"] == r["events_loaded"] + r["duplicates_dropped"] + r["lines_rejected"], (day, r)
        assert sum(r["rejects_by_reason"].values()) == r["lines_rejected"], (day, r)


def dq_counts(row: dict) -> dict:
    """The numeric columns of one data-quality row, for comparing with a literal dict."""
    return {k: row[k] for k in DQ_COLUMNS if k not in ("export_date", "rejects_by_reason")}


# ---------------------------------------------------------------------------------------------
# 2026-11-23: bad input. One file, "part-0000.jsonl"; physical line numbers in the comments.
# ---------------------------------------------------------------------------------------------

BAD_DAY = "2026-11-23"
BAD_FILE = "part-0000.jsonl"
UM = ev("tmpl", "user_message")  # a valid template to break one field at a time
ENVELOPE = ["event_id", "event_type", "occurred_at", "assistant_id", "channel", "user_id", "conversation_id"]


def _envelope_breakers() -> list[tuple[str, str]]:
    """Lines 10..30: each required envelope field missing, empty, a number (in that order)."""
    out = []
    for f in ENVELOPE:
        base = with_(UM, event_id=f"bad-{f}")
        out.append((dumps(without(base, f)), f"missing_field:{f}"))
        out.append((dumps(with_(base, **{f: ""})), f"empty_field:{f}"))
        out.append((dumps(with_(base, **{f: 12345})), f"wrong_type:{f}"))
    return out


CLICK_OK = dict(click_type="quick_reply", title="Talk to an operator", destination_type="answer",
                destination="handover")

BAD_LINES: list[tuple] = [
    # (line text, expected reason | VALID | BLANK)
    (dumps(ev("ok-first")), VALID),  # 1
    ("", BLANK),  # 2
    ("this is not json", "invalid_json"),  # 3
    ("    ", BLANK),  # 4: spaces only is blank
    ("[1, 2, 3]", "not_an_object"),  # 5
    ("42", "not_an_object"),  # 6
    ('"just a string"', "not_an_object"),  # 7
    ("null", "not_an_object"),  # 8
    ('{"event_id": "cut-off', "invalid_json"),  # 9
    *_envelope_breakers(),  # 10..30 (7 fields x 3)
    (dumps(with_(UM, event_id="ts-words", occurred_at="yesterday at noon")), "invalid_timestamp"),  # 31
    (dumps(with_(UM, event_id="ts-no-offset", occurred_at="2026-11-23T10:00:00")), "invalid_timestamp"),  # 32
    (dumps(with_(UM, event_id="ts-feb-30", occurred_at="2026-02-30T10:00:00Z")), "invalid_timestamp"),  # 33
    (dumps(with_(UM, event_id="props-list", properties=["message_id", "x"])), "wrong_type:properties"),  # 34
    (dumps(with_(UM, event_id="props-string", properties="hello")), "wrong_type:properties"),  # 35
    (dumps(ev("csat-0", "csat", score=0)), "invalid_value:csat.score"),  # 36
    (dumps(ev("csat-6", "csat", score=6)), "invalid_value:csat.score"),  # 37
    (dumps(ev("csat-4.5", "csat", score=4.5)), "invalid_value:csat.score"),  # 38
    (dumps(ev("click-banner", "click", **{**CLICK_OK, "click_type": "banner"})),
     "invalid_value:click.click_type"),  # 39
    (dumps(ev("fb-maybe", "feedback", message_id="m-ok-bot", value="maybe")), "invalid_value:feedback.value"),  # 40
    (dumps(ev("fb-no-value", "feedback", message_id="m-ok-bot")), "missing_property:feedback.value"),  # 41
    (dumps(ev("ok-bot", "bot_message", message_id="m-ok-bot", reviewable=True)), VALID),  # 42
    (dumps(ev("fb-null", "feedback", message_id="m-ok-bot", value=None)), VALID),  # 43: retracted rating
    (dumps(ev("fb-orphan", "feedback", message_id="m-nobody", value="positive")), VALID),  # 44: orphan
    # 45: orphan, the answer m-ok-bot belongs to another assistant (globex-sales is in the seed)
    (dumps(ev("fb-other-assistant", "feedback", message_id="m-ok-bot", value="positive",
              assistant="globex-sales")), VALID),
    (dumps(ev("bad-bot", "bot_message", message_id="m-bad-bot", reviewable="yes")),
     "wrong_type:bot_message.reviewable"),  # 46
    # 47: orphan, its answer was rejected
    (dumps(ev("fb-on-rejected", "feedback", message_id="m-bad-bot", value="negative")), VALID),
    (dumps(without(ev("unknown-type", "screen_view"), "properties")), VALID),  # 48: unknown type, no properties
    (dumps(ev("ghost", assistant="ghost-bot")), VALID),  # 49: assistant not in the seed
    (dumps(ev("dup-after-reject", "csat", score="5")), "invalid_value:csat.score"),  # 50: a string score
    (dumps(ev("dup-after-reject", "csat", score=4)), VALID),  # 51: first VALID copy, so loaded
    (dumps(ev("late-8d", at="2026-11-15T12:00:00Z")), VALID),  # 52: 8 days before 11-23: late
    (dumps(ev("late-7d", at="2026-11-16T12:00:00Z")), VALID),  # 53: 7 days: not late
    (dumps(ev("late-utc", at="2026-11-16T00:30:00+02:00")), VALID),  # 54: UTC 11-15 22:30: late
    (dumps(ev("notlate-utc", at="2026-11-15T23:30:00-02:00")), VALID),  # 55: UTC 11-16 01:30: not late
    (dumps({**ev("extra-fields", text="hi", zzz=1), "sdk": {"version": 3}}), VALID),  # 56: extras ignored
    ("", BLANK),  # 57
    (dumps(ev("ok-last")), VALID),  # 58
    ("  ", BLANK),  # 59
]


def _numbered(lines):
    return [(n, text, kind) for n, (text, kind) in enumerate(lines, start=1)]


# ---------------------------------------------------------------------------------------------
# 2026-11-24: files.
# ---------------------------------------------------------------------------------------------

FILES_DAY = "2026-11-24"
T24 = "2026-11-24T09:00:00Z"
TRUNC_LINES = [dumps(ev("trunc-1", at=T24)), dumps(ev("trunc-2", at=T24)), dumps(ev("trunc-3", at=T24))]
TRUNC_KEPT_PREFIX = TRUNC_LINES[2][: len(TRUNC_LINES[2]) // 2]  # what is left of line 3 after the cut


def write_files_day(exports) -> None:
    write_export(exports, FILES_DAY, "part-0000.jsonl.gz", [ev("gz-1", at=T24), ev("gz-2", at=T24)])
    write_export(exports, FILES_DAY, "part-0001.jsonl", [ev("plain-1", at=T24), "", ev("plain-2", at=T24)])
    write_export(exports, FILES_DAY, "part-0002.jsonl", [])  # an empty file: 0 bytes
    folder = exports / f"dt={FILES_DAY}"
    (folder / "part-0003.jsonl.gz").write_bytes(b"")  # a 0-byte gzip
    # A truncated gzip: stored (level 0) so that the cut point in the text is exact. Stored deflate
    # data is the text itself, followed by an 8-byte trailer (CRC32, size): drop the trailer and the
    # second half of line 3 (and its newline).
    text = "".join(line + "\n" for line in TRUNC_LINES).encode()
    data = gzip.compress(text, compresslevel=0, mtime=0)
    cut = 8 + (len(TRUNC_LINES[2]) + 1 - len(TRUNC_KEPT_PREFIX))
    (folder / "part-0004.jsonl.gz").write_bytes(data[:-cut])
    # Not exports: ignored even though they hold event-like lines.
    (folder / "notes.txt").write_text(dumps(ev("in-notes", at=T24)) + "\nnot json\n")
    (folder / "old.json").write_text(dumps(ev("in-old-json", at=T24)) + "\n")


# ---------------------------------------------------------------------------------------------
# 2026-11-22: edge cases of the line format.
# ---------------------------------------------------------------------------------------------

EDGE_DAY = "2026-11-22"
T22 = "2026-11-22T10:00:00Z"


def write_edge_day(exports) -> None:
    folder = exports / f"dt={EDGE_DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    # Windows line ends; line 2 is an empty CRLF line, 3 and 5 hold only spaces and tabs.
    crlf = (dumps(ev("crlf-1", at=T22)) + "\r\n" + "\r\n" + " \t \r\n"
            + dumps(ev("crlf-2", at=T22)) + "\r\n" + "\t\n")
    (folder / "crlf.jsonl").write_bytes(crlf.encode())
    # RFC 3339 (section 5.6, note) allows a lower-case "t" and "z".
    write_export(exports, EDGE_DAY, "lower.jsonl", [ev("lower-tz", at="2026-11-22t10:00:00z")])


# ---------------------------------------------------------------------------------------------
# 2026-11-26 and 2026-11-27: duplicates. The first copy differs from the later ones in a way the
# data-quality mart shows (type unknown, assistant unknown, late), so the counts prove which copy
# staging kept.
# ---------------------------------------------------------------------------------------------

DUP_DAY_1, DUP_DAY_2 = "2026-11-26", "2026-11-27"
T26, T27 = "2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z"


def write_duplicate_days(exports) -> None:
    write_export(exports, DUP_DAY_1, "a.jsonl", [
        ev("dup-in-file", "x_future_type", at=T26),  # 1: first copy, unknown type
        ev("d26-a-2", at=T26),  # 2
        ev("dup-in-file", at=T26),  # 3: duplicate (known type this time)
        ev("dup-in-file", at=T26),  # 4: duplicate, identical to line 3
        ev("dup-across-files", assistant="ghost-bot", at=T26),  # 5: first copy (a.jsonl < b.jsonl)
        ev("dup-across-days", at="2026-11-10T09:00:00Z"),  # 6: first copy, 16 days late
    ])
    write_export(exports, DUP_DAY_1, "b.jsonl", [
        ev("dup-across-files", at=T26),  # 1: duplicate of a.jsonl line 5, known assistant
        ev("d26-b-2", at=T26),  # 2
    ])
    write_export(exports, DUP_DAY_2, "0.jsonl", [  # sorts before "a.jsonl", but the day is later
        ev("dup-across-days", at=T27),  # 1: duplicate of 11-26 a.jsonl line 6, on time
        ev("d27-2", at=T27),  # 2
        ev("dup-in-file", at=T27),  # 3: fourth copy
    ])


@pytest.fixture(scope="module")
@slow_fixture
def loaded(module_workspace: Workspace) -> Workspace:
    ws = module_workspace
    lines = [text for text, _ in BAD_LINES]
    write_export(ws.exports, BAD_DAY, BAD_FILE, lines)
    write_files_day(ws.exports)
    write_edge_day(ws.exports)
    write_duplicate_days(ws.exports)
    ws.cli("refresh", "--all")
    return ws


# ------------------------------------------------- bad input ---------------------------------


def test_bad_input_file_has_the_line_numbers_the_comments_say():
    # Guards the hand-written line numbers of this module against an edit of BAD_LINES.
    numbered = _numbered(BAD_LINES)
    assert len(numbered) == 59
    assert numbered[2][1] == "this is not json"
    assert [n for n, _, k in numbered if k is BLANK] == [2, 4, 57, 59]
    assert [n for n, _, k in numbered if isinstance(k, str) and k.endswith(":event_id")] == [10, 11, 12]
    assert [n for n, _, k in numbered if isinstance(k, str) and k.endswith(":conversation_id")] == [28, 29, 30]
    assert json.loads(numbered[57][1])["event_id"] == "ok-last"


def test_rejected_lines_keep_line_number_raw_text_and_reason(loaded):
    got = loaded.query(
        "select file_name, line_number, raw_line, reason from raw.rejected_lines "
        "where export_date = date '2026-11-23' order by line_number"
    )
    expected = [(BAD_FILE, n, text, kind) for n, text, kind in _numbered(BAD_LINES) if isinstance(kind, str)]
    assert len(expected) == 40  # 6 non-objects/non-JSON + 21 envelope + 13 others (counted by hand)
    assert got == expected


def test_spot_check_reject_reasons(loaded):
    # A few literal rows, independent of the table above.
    got = dict(loaded.query(
        "select line_number, reason from raw.rejected_lines where export_date = date '2026-11-23'"
    ))
    assert got[3] == "invalid_json"
    assert got[5] == "not_an_object"
    assert got[10] == "missing_field:event_id"
    assert got[14] == "empty_field:event_type"
    assert got[18] == "wrong_type:occurred_at"
    assert got[32] == "invalid_timestamp"
    assert got[38] == "invalid_value:csat.score"
    assert got[41] == "missing_property:feedback.value"
    assert 43 not in got  # feedback with "value": null is valid
    raw = loaded.query("select raw_line from raw.rejected_lines where export_date = date '2026-11-23' "
                       "and line_number = 3")
    assert raw == [("this is not json",)]


def test_valid_lines_are_loaded_with_physical_line_numbers(loaded):
    got = loaded.query(
        "select file_name, line_number, event_id from raw.events "
        "where export_date = date '2026-11-23' order by line_number"
    )
    expected = [(BAD_FILE, n, json.loads(text)["event_id"]) for n, text, kind in _numbered(BAD_LINES)
                if kind is VALID]
    assert len(expected) == 15
    assert got == expected
    assert got[0] == (BAD_FILE, 1, "ok-first")
    assert got[-1] == (BAD_FILE, 58, "ok-last")  # blank lines 2, 4 and 57 still take a number


def test_blank_lines_are_neither_read_nor_rejected(loaded):
    assert loaded.query(
        "select lines_read from raw.export_files where export_date = date '2026-11-23'"
    ) == [(55,)]  # 59 physical lines - 4 blank ones
    assert loaded.query(
        "select count(*) from raw.rejected_lines where export_date = date '2026-11-23' "
        "and line_number in (2, 4, 57, 59)"
    ) == [(0,)]


def test_loaded_event_columns(loaded):
    rows = loaded.query(
        """
        select event_id, event_type, strftime(timezone('UTC', occurred_at), '%Y-%m-%d %H:%M:%S'),
               assistant_id, channel, user_id, conversation_id, user_agent, properties::varchar
        from raw.events where export_date = date '2026-11-23'
          and event_id in ('ok-first', 'late-utc', 'notlate-utc', 'unknown-type', 'fb-null', 'ghost')
        order by event_id
        """
    )
    by_id = {r[0]: r for r in rows}
    assert by_id["ok-first"][1:8] == ("user_message", "2026-11-23 10:00:00", "acme-support", "web", "u1", "c1",
                                      None)
    assert json.loads(by_id["ok-first"][8]) == {"message_id": "m-ok-first"}
    assert by_id["late-utc"][2] == "2026-11-15 22:30:00"  # 00:30 at +02:00
    assert by_id["notlate-utc"][2] == "2026-11-16 01:30:00"  # 23:30 at -02:00
    assert json.loads(by_id["unknown-type"][8]) == {}  # absent properties mean {}
    assert by_id["unknown-type"][1] == "screen_view"  # unknown types are kept as they are
    assert json.loads(by_id["fb-null"][8]) == {"message_id": "m-ok-bot", "value": None}
    assert by_id["ghost"][3] == "ghost-bot"


def test_data_quality_of_the_bad_input_day(loaded):
    row = dq_rows(loaded)[BAD_DAY]
    assert dq_counts(row) == {
        "lines_read": 55,  # 59 lines, 4 blank
        "events_loaded": 15,  # lines 1 42 43 44 45 47 48 49 51 52 53 54 55 56 58
        "duplicates_dropped": 0,  # 51 is the only VALID copy of dup-after-reject
        "lines_rejected": 40,
        "unknown_event_types": 1,  # 48 screen_view
        "late_events": 2,  # 52 (8 days) and 54 (8 days in UTC); 53 and 55 are exactly 7
        "orphan_feedback": 3,  # 44 unknown answer, 45 other assistant's answer, 47 rejected answer
        "unknown_assistant_events": 1,  # 49 ghost-bot
        "damaged_files": 0,
    }
    assert row["rejects_by_reason"] == {
        "invalid_json": 2,  # 3, 9
        "not_an_object": 4,  # 5 6 7 8
        **{f"{kind}:{f}": 1 for f in ENVELOPE for kind in ("missing_field", "empty_field", "wrong_type")},
        "invalid_timestamp": 3,  # 31 32 33
        "wrong_type:properties": 2,  # 34 35
        "invalid_value:csat.score": 4,  # 36 37 38 50
        "invalid_value:click.click_type": 1,  # 39
        "invalid_value:feedback.value": 1,  # 40
        "missing_property:feedback.value": 1,  # 41
        "wrong_type:bot_message.reviewable": 1,  # 46
    }


# ------------------------------------------------- files -------------------------------------


def test_export_files_lists_only_export_files_with_damage(loaded):
    folder = loaded.exports / f"dt={FILES_DAY}"
    got = loaded.query(
        "select file_name, size_bytes, lines_read, damage is not null from raw.export_files "
        "where export_date = date '2026-11-24' order by file_name"
    )
    assert got == [
        ("part-0000.jsonl.gz", (folder / "part-0000.jsonl.gz").stat().st_size, 2, False),
        ("part-0001.jsonl", (folder / "part-0001.jsonl").stat().st_size, 2, False),  # one blank line
        ("part-0002.jsonl", 0, 0, False),  # empty plain file: not damage
        ("part-0003.jsonl.gz", 0, 0, True),  # 0-byte gzip
        ("part-0004.jsonl.gz", (folder / "part-0004.jsonl.gz").stat().st_size, 3, True),  # truncated
    ]
    damage = dict(loaded.query(
        "select file_name, damage from raw.export_files where export_date = date '2026-11-24' "
        "and damage is not null"
    ))
    assert all(isinstance(v, str) and v.strip() for v in damage.values())


def test_jsonl_and_gzip_lines_load_and_other_files_are_ignored(loaded):
    got = loaded.query(
        "select file_name, line_number, event_id from raw.events where export_date = date '2026-11-24' "
        "order by file_name, line_number"
    )
    assert got == [
        ("part-0000.jsonl.gz", 1, "gz-1"),
        ("part-0000.jsonl.gz", 2, "gz-2"),
        ("part-0001.jsonl", 1, "plain-1"),
        ("part-0001.jsonl", 3, "plain-2"),  # line 2 is blank
        ("part-0004.jsonl.gz", 1, "trunc-1"),  # the lines before the cut
        ("part-0004.jsonl.gz", 2, "trunc-2"),
    ]
    for table in ("raw.events", "raw.rejected_lines", "raw.export_files"):
        assert loaded.query(
            f"select count(*) from {table} where file_name in ('notes.txt', 'old.json')"
        ) == [(0,)], table
    assert loaded.query(
        "select count(*) from raw.events where event_id in ('in-notes', 'in-old-json', 'trunc-3')"
    ) == [(0,)]


def test_truncated_gzip_keeps_the_cut_line_as_a_reject(loaded):
    # The half line at the cut is not silently lost: it is a line read, and it is not JSON.
    assert loaded.query(
        "select file_name, line_number, raw_line, reason from raw.rejected_lines "
        "where export_date = date '2026-11-24'"
    ) == [("part-0004.jsonl.gz", 3, TRUNC_KEPT_PREFIX, "invalid_json")]


def test_data_quality_of_the_files_day(loaded):
    row = dq_rows(loaded)[FILES_DAY]
    assert dq_counts(row) == {
        "lines_read": 7,  # gz 2 + plain 2 + empty 0 + 0-byte gz 0 + truncated 3
        "events_loaded": 6,  # gz-1 gz-2 plain-1 plain-2 trunc-1 trunc-2
        "duplicates_dropped": 0,
        "lines_rejected": 1,  # the half line at the cut
        "unknown_event_types": 0,
        "late_events": 0,
        "orphan_feedback": 0,
        "unknown_assistant_events": 0,
        "damaged_files": 2,  # the 0-byte gzip and the truncated one
    }
    assert row["rejects_by_reason"] == {"invalid_json": 1}


@pytest.mark.slow
def test_empty_export_folders_give_a_row_of_zeros(workspace):
    ws = workspace
    write_export(ws.exports, "2026-11-24", "part-0000.jsonl", [ev("one", at="2026-11-24T09:00:00Z")])
    (ws.exports / "dt=2026-11-25").mkdir(parents=True)  # nothing at all
    (ws.exports / "dt=2026-11-26").mkdir(parents=True)
    (ws.exports / "dt=2026-11-26" / "README.txt").write_text("no export today\n")  # no export file
    ws.cli("refresh", "--all")
    rows = dq_rows(ws)
    assert sorted(rows) == ["2026-11-24", "2026-11-25", "2026-11-26"]
    assert dq_counts(rows["2026-11-24"])["events_loaded"] == 1
    for day in ("2026-11-25", "2026-11-26"):
        counts = dq_counts(rows[day])
        assert len(counts) == 9
        assert counts == {k: 0 for k in counts}, day
        assert rows[day]["rejects_by_reason"] == {}, day
        for table in ("raw.events", "raw.rejected_lines", "raw.export_files"):
            assert ws.query(f"select count(*) from {table} where export_date = date '{day}'") == [(0,)], (day, table)
    assert_invariant(ws)


# ------------------------------------------------- line format edge cases ---------------------


def test_crlf_and_whitespace_only_lines_are_blank(loaded):
    # Blank means nothing but white space: "\r" of a CRLF line end and tabs included.
    assert loaded.query(
        "select lines_read from raw.export_files where export_date = date '2026-11-22' and file_name = 'crlf.jsonl'"
    ) == [(2,)]  # lines 1 and 4; 2, 3 and 5 are blank
    assert loaded.query(
        "select line_number, raw_line, reason from raw.rejected_lines where file_name = 'crlf.jsonl'"
    ) == []
    assert loaded.query(
        "select line_number, event_id from raw.events where file_name = 'crlf.jsonl' order by line_number"
    ) == [(1, "crlf-1"), (4, "crlf-2")]


def test_lower_case_rfc3339_timestamp_is_valid(loaded):
    assert loaded.query(
        "select strftime(timezone('UTC', occurred_at), '%Y-%m-%d %H:%M:%S') from raw.events "
        "where event_id = 'lower-tz'"
    ) == [("2026-11-22 10:00:00",)]
    assert loaded.query("select reason from raw.rejected_lines where file_name = 'lower.jsonl'") == []


# ------------------------------------------------- duplicates --------------------------------


def test_raw_events_keep_every_valid_copy(loaded):
    got = loaded.query(
        "select event_id, export_date::varchar, file_name, line_number from raw.events "
        "where event_id like 'dup-%' and export_date >= date '2026-11-26' "
        "order by event_id, export_date, file_name, line_number"
    )
    assert got == [
        ("dup-across-days", "2026-11-26", "a.jsonl", 6),
        ("dup-across-days", "2026-11-27", "0.jsonl", 1),
        ("dup-across-files", "2026-11-26", "a.jsonl", 5),
        ("dup-across-files", "2026-11-26", "b.jsonl", 1),
        ("dup-in-file", "2026-11-26", "a.jsonl", 1),
        ("dup-in-file", "2026-11-26", "a.jsonl", 3),
        ("dup-in-file", "2026-11-26", "a.jsonl", 4),
        ("dup-in-file", "2026-11-27", "0.jsonl", 3),
    ]


def test_first_copy_wins_by_day_then_file_then_line(loaded):
    rows = dq_rows(loaded)
    assert dq_counts(rows[DUP_DAY_1]) == {
        "lines_read": 8,  # a.jsonl 6 + b.jsonl 2
        "events_loaded": 5,  # a:1 dup-in-file, a:2, a:5 dup-across-files, a:6 dup-across-days, b:2
        "duplicates_dropped": 3,  # a:3 and a:4 (same file), b:1 (a.jsonl sorts first)
        "lines_rejected": 0,
        "unknown_event_types": 1,  # kept copy of dup-in-file is line 1, x_future_type
        "late_events": 1,  # kept copy of dup-across-days occurred 2026-11-10, 16 days before
        "orphan_feedback": 0,
        "unknown_assistant_events": 1,  # kept copy of dup-across-files is a.jsonl's, ghost-bot
        "damaged_files": 0,
    }
    assert rows[DUP_DAY_1]["rejects_by_reason"] == {}
    assert dq_counts(rows[DUP_DAY_2]) == {
        "lines_read": 3,
        "events_loaded": 1,  # d27-2
        "duplicates_dropped": 2,  # dup-across-days (11-26 wins although "0.jsonl" < "a.jsonl"), dup-in-file
        "lines_rejected": 0,
        "unknown_event_types": 0,
        "late_events": 0,  # the on-time copy of dup-across-days is a duplicate
        "orphan_feedback": 0,
        "unknown_assistant_events": 0,
        "damaged_files": 0,
    }


def test_one_data_quality_row_per_export_day_and_invariant(loaded):
    assert sorted(dq_rows(loaded)) == ["2026-11-22", "2026-11-23", "2026-11-24", "2026-11-26", "2026-11-27"]
    assert_invariant(loaded)


# ------------------------------------------------- re-delivery -------------------------------

DAY_A, DAY_B = "2026-11-23", "2026-11-24"


def _snapshot(ws: Workspace) -> dict:
    return {
        "events": ws.query("select * exclude (properties), properties::varchar from raw.events "
                           "order by export_date, file_name, line_number"),
        "rejected": ws.query("select * from raw.rejected_lines order by export_date, file_name, line_number"),
        "files": ws.query("select * from raw.export_files order by export_date, file_name"),
        "dq": ws.query(f"select {', '.join(DQ_COLUMNS)} from marts.data_quality_daily order by export_date"),
    }


def _write_day_a(ws: Workspace, with_shared: bool, name: str = "part-0000.jsonl") -> None:
    folder = ws.exports / f"dt={DAY_A}"
    if folder.exists():
        shutil.rmtree(folder)  # a re-delivery replaces the whole folder
    lines = [ev("a-1")]
    if with_shared:
        lines.append(ev("shared", at="2026-11-23T11:00:00Z"))
    lines.append("garbage, not json")
    write_export(ws.exports, DAY_A, name, lines)


@pytest.mark.slow
def test_redelivery_moves_the_first_copy_and_reloading_is_idempotent(workspace):
    ws = workspace
    _write_day_a(ws, with_shared=True)  # a-1, shared, garbage
    write_export(ws.exports, DAY_B, "part-0000.jsonl", [
        ev("shared", assistant="ghost-bot", at="2026-11-24T07:00:00Z"),  # a later copy, unknown assistant
        ev("b-2", at="2026-11-24T08:00:00Z"),
    ])

    # Step 1: both days.
    ws.cli("refresh", "--all")
    rows = dq_rows(ws)
    assert sorted(rows) == [DAY_A, DAY_B]
    assert dq_counts(rows[DAY_A]) == {
        "lines_read": 3, "events_loaded": 2, "duplicates_dropped": 0, "lines_rejected": 1,  # a-1 shared | garbage
        "unknown_event_types": 0, "late_events": 0, "orphan_feedback": 0, "unknown_assistant_events": 0,
        "damaged_files": 0,
    }
    assert dq_counts(rows[DAY_B]) == {
        "lines_read": 2, "events_loaded": 1, "duplicates_dropped": 1, "lines_rejected": 0,  # b-2 | shared
        "unknown_event_types": 0, "late_events": 0, "orphan_feedback": 0,
        "unknown_assistant_events": 0,  # B's ghost-bot copy of "shared" is a duplicate
        "damaged_files": 0,
    }
    assert_invariant(ws)
    before = _snapshot(ws)
    assert len(before["events"]) == 4  # A: a-1 shared; B: shared b-2

    # Step 2: the same day A delivered again, identical content (new file times): nothing doubles.
    _write_day_a(ws, with_shared=True)
    ws.cli("refresh", "--day", DAY_A)
    assert _snapshot(ws) == before
    assert_invariant(ws)

    # Step 3: A re-delivered without "shared", under another file name: B's copy becomes the first.
    _write_day_a(ws, with_shared=False, name="part-0000-v2.jsonl")  # a-1, garbage
    ws.cli("refresh", "--day", DAY_A)
    rows = dq_rows(ws)
    assert dq_counts(rows[DAY_A]) == {
        "lines_read": 2, "events_loaded": 1, "duplicates_dropped": 0, "lines_rejected": 1,  # a-1 | garbage
        "unknown_event_types": 0, "late_events": 0, "orphan_feedback": 0, "unknown_assistant_events": 0,
        "damaged_files": 0,
    }
    assert dq_counts(rows[DAY_B]) == {
        "lines_read": 2,
        "events_loaded": 2,  # was 1: "shared" is now B's first copy
        "duplicates_dropped": 0,  # was 1
        "lines_rejected": 0,
        "unknown_event_types": 0, "late_events": 0, "orphan_feedback": 0,
        "unknown_assistant_events": 1,  # B's copy of "shared" (ghost-bot) is now the one kept
        "damaged_files": 0,
    }
    assert_invariant(ws)
    assert ws.query("select file_name, line_number, event_id from raw.events "
                    "where export_date = date '2026-11-23' order by line_number") == [("part-0000-v2.jsonl", 1, "a-1")]
    assert ws.query("select file_name, line_number, raw_line from raw.rejected_lines "
                    "where export_date = date '2026-11-23'") == [("part-0000-v2.jsonl", 2, "garbage, not json")]
    assert ws.query("select file_name from raw.export_files where export_date = date '2026-11-23'") == [
        ("part-0000-v2.jsonl",)  # the old file's row is gone with it
    ]
    after_redelivery = _snapshot(ws)

    # Step 4: a full rebuild gives exactly what the incremental refresh gave.
    ws.cli("refresh", "--all", "--full")
    assert _snapshot(ws) == after_redelivery
    assert_invariant(ws)


# ------------------------------------------------- command-line errors -----------------------


@pytest.mark.parametrize(
    "day",
    [
        "2026-13-01",  # malformed: there is no month 13
        "2030-01-01",  # well-formed, but no dt=2030-01-01 folder
    ],
)
def test_refresh_error_is_one_line_and_exit_2(workspace, day):
    write_export(workspace.exports, "2026-11-23", "part-0000.jsonl", [ev("e1")])  # the exports root exists
    proc = workspace.cli("refresh", "--day", day, check=False)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert day in lines[0]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


# ------------------------------------------------- fast and careful reads ---------------------


def test_files_duckdb_would_misread_take_the_careful_path(tmp_path):
    """DuckDB's own reader loads healthy files; each file below must not be read quietly wrong by it.
    A loader rule: load_export_day on a DuckDB of its own, no refresh."""
    from orchestration.load.raw import load_export_day

    day, at = "2026-11-24", "2026-11-24T09:00:00Z"
    exports = tmp_path / "exports"
    folder = exports / f"dt={day}"
    # Two gzip members, one after the other (what `cat a.gz b.gz` makes): all four lines count.
    member = lambda ids: gzip.compress("".join(dumps(ev(i, at=at)) + "\n" for i in ids).encode())  # noqa: E731
    folder.mkdir(parents=True)
    (folder / "a-members.jsonl.gz").write_bytes(member(["mm-1", "mm-2"]) + member(["mm-3", "mm-4"]))
    # One byte flipped inside a stored (level 0) gzip: the deflate data stays readable, only the CRC
    # says the text changed ("crc-2" becomes "brc-2"); zlib refuses the whole file.
    text = "".join(dumps(ev(f"crc-{n}", at=at)) + "\n" for n in range(1, 4)).encode()
    data = bytearray(gzip.compress(text, compresslevel=0, mtime=0))
    data[data.index(b"crc-2")] ^= 0x01  # "c" -> "b"
    (folder / "b-crc.jsonl.gz").write_bytes(bytes(data))
    # A CR inside a line is JSON white space, not a line end: one event on line 1, one on line 2.
    cr_line = dumps(ev("cr-inside", at=at)).replace(", ", ",\r", 1)
    (folder / "c-cr.jsonl").write_bytes((cr_line + "\n" + dumps(ev("after-cr", at=at)) + "\n").encode())
    # Big enough for DuckDB to split the file across threads; a blank line every 1,000 lines.
    big = ["" if n % 1000 == 0 else dumps(ev(f"big-{n}", at=at, user=f"u{n % 50}")) for n in range(1, 250_001)]
    (folder / "d-big.jsonl").write_text("".join(line + "\n" for line in big))
    conn = duckdb.connect()
    load_export_day(conn, exports, dt.date.fromisoformat(day))

    def query(sql: str) -> list[tuple]:
        return conn.execute(sql).fetchall()

    assert query(
        "select file_name, lines_read, damage is not null from raw.export_files order by file_name"
    ) == [
        ("a-members.jsonl.gz", 4, False),
        ("b-crc.jsonl.gz", 3, True),  # its one member's check fails: its lines are rejected (below)
        ("c-cr.jsonl", 2, False),
        ("d-big.jsonl", 250_000 - 250, False),
    ]
    assert query(
        "select file_name, line_number, event_id from raw.events where file_name <> 'd-big.jsonl' "
        "order by file_name, line_number"
    ) == [
        ("a-members.jsonl.gz", 1, "mm-1"), ("a-members.jsonl.gz", 2, "mm-2"),
        ("a-members.jsonl.gz", 3, "mm-3"), ("a-members.jsonl.gz", 4, "mm-4"),
        ("c-cr.jsonl", 1, "cr-inside"), ("c-cr.jsonl", 2, "after-cr"),
    ]
    # every line of the big file sits at its physical line number
    assert query(
        "select count(*), count(*) filter (where event_id = 'big-' || line_number) "
        "from raw.events where file_name = 'd-big.jsonl'"
    ) == [(249_750, 249_750)]
    # the text of the damaged member as it reads, "brc-2" with it: not loaded, nothing lost
    assert query("select file_name, line_number, json_extract_string(raw_line, '$.event_id'), reason "
                 "from raw.rejected_lines order by all") == [
        ("b-crc.jsonl.gz", n, event_id, "damaged_gzip_member")
        for n, event_id in ((1, "crc-1"), (2, "brc-2"), (3, "crc-3"))]
    # every line read is an event or a reject (duplicates are dropped later, by the models)
    assert query("select (select sum(lines_read) from raw.export_files), "
                 "(select count(*) from raw.events) + (select count(*) from raw.rejected_lines)") == [
        (4 + 3 + 2 + 249_750, 4 + 3 + 2 + 249_750)]


def test_the_longest_file_names_take_the_careful_path_too(tmp_path):
    """Names of 255 and 252 bytes (the file system's longest is 255) whose files the careful path
    reads: its text copy was named after the file, with ".txt" added, too long a name to write, and
    the load stopped. A loader rule: load_export_day on a DuckDB of its own, no refresh."""
    from orchestration.load.raw import load_export_day

    day, at = "2026-11-24", "2026-11-24T09:00:00Z"
    folder = tmp_path / "exports" / f"dt={day}"
    folder.mkdir(parents=True)
    plain, gzipped = "p" * 249 + ".jsonl", "g" * 243 + ".jsonl.gz"
    assert (len(plain), len(gzipped)) == (255, 252)
    (folder / plain).write_bytes(dumps(ev("long-1", at=at)).encode() + b"\n\xff\n")  # a line not UTF-8
    (folder / gzipped).write_bytes(gzip.compress(
        "".join(dumps(ev(f"long-gz-{n}", at=at)) + "\r\n" for n in (1, 2)).encode()))  # CRLF line ends
    conn = duckdb.connect()
    load_export_day(conn, tmp_path / "exports", dt.date.fromisoformat(day))
    assert conn.execute("select file_name, line_number, event_id from raw.events order by all").fetchall() == [
        (gzipped, 1, "long-gz-1"), (gzipped, 2, "long-gz-2"), (plain, 1, "long-1")]
    assert conn.execute("select file_name, line_number, reason from raw.rejected_lines").fetchall() == [
        (plain, 2, "invalid_utf8")]


# ------------------------------------------------- owners of rated answers (raw.answer_owners) ---
# The loader marks the owner of every answer a loaded feedback rates, whatever export day brought
# the answer, from its own table (no dbt relation). Plain DuckDB, load_export_day called directly;
# `pending` clears raw.pending_users as a completed refresh does, then loads one day.

def _pending_after_load(conn, exports, day: str) -> set[tuple[str, str]]:
    from orchestration.load.raw import load_export_day

    if _has_raw(conn):
        conn.execute("delete from raw.pending_users")
    load_export_day(conn, exports, dt.date.fromisoformat(day))
    return set(conn.execute("select distinct assistant_id, user_id from raw.pending_users").fetchall())


def _has_raw(conn) -> bool:
    return bool(conn.execute("select count(*) from duckdb_tables() where schema_name = 'raw'").fetchone()[0])


def _answers_day(exports, day: str = "2026-11-20") -> None:
    at = f"{day}T10:00:00Z"
    write_export(exports, day, "part-0000.jsonl", [
        ev("a-1", "bot_message", at, user="owner", message_id="m-ans"),
        # the same message_id in another assistant is another answer
        ev("a-2", "bot_message", at, assistant="globex-sales", user="stranger", message_id="m-ans"),
        ev("a-3", "bot_message", at, user="bystander", message_id="m-other"),
    ])


def _feedback_day(exports, day: str = "2026-11-23", *, with_feedback: bool = True) -> None:
    at = f"{day}T10:00:00Z"
    lines = [ev("u-9", "user_message", at, user="talker")]
    if with_feedback:
        lines.append(ev("f-1", "feedback", at, user="rater", message_id="m-ans", value="positive"))
    write_export(exports, day, "part-0000.jsonl", lines)


def _answers_loaded_feedback_written(tmp_path):
    """An in-memory warehouse with the answers' day loaded; the feedback's day written, not loaded."""
    import duckdb

    exports = tmp_path / "exports"
    _answers_day(exports)
    _feedback_day(exports)
    conn = duckdb.connect()
    _pending_after_load(conn, exports, "2026-11-20")
    return conn, exports


def test_feedback_marks_the_owner_of_an_answer_loaded_days_earlier(tmp_path):
    conn, exports = _answers_loaded_feedback_written(tmp_path)
    # three days later another user rates owner's answer: owner's ratings change
    assert _pending_after_load(conn, exports, "2026-11-23") == {
        ("acme-support", "talker"), ("acme-support", "rater"), ("acme-support", "owner"),
    }
    # the platform re-delivers the day without the feedback: owner's rating goes away again
    shutil.rmtree(exports / "dt=2026-11-23")
    _feedback_day(exports, with_feedback=False)
    assert _pending_after_load(conn, exports, "2026-11-23") == {
        ("acme-support", "talker"), ("acme-support", "rater"), ("acme-support", "owner"),
    }


def test_answer_owners_follow_redelivery_and_every_copy_counts(tmp_path):
    import duckdb

    exports = tmp_path / "exports"
    _answers_day(exports)
    # a second copy of the answer event, under another user, on a later day: only the first copy
    # owns the answer, but marking the other user too only costs a recomputation
    write_export(exports, "2026-11-21", "part-0000.jsonl", [
        ev("a-1", "bot_message", "2026-11-20T10:00:00Z", user="copycat", message_id="m-ans"),
    ])
    _feedback_day(exports)
    conn = duckdb.connect()
    for day in ("2026-11-20", "2026-11-21"):
        _pending_after_load(conn, exports, day)
    assert sorted(conn.execute("select * from raw.answer_owners").fetchall()) == [
        (dt.date(2026, 11, 20), "acme-support", "m-ans", "owner"),
        (dt.date(2026, 11, 20), "acme-support", "m-other", "bystander"),
        (dt.date(2026, 11, 20), "globex-sales", "m-ans", "stranger"),
        (dt.date(2026, 11, 21), "acme-support", "m-ans", "copycat"),
    ]
    assert _pending_after_load(conn, exports, "2026-11-23") == {
        ("acme-support", "talker"), ("acme-support", "rater"), ("acme-support", "owner"),
        ("acme-support", "copycat"),
    }
    # 2026-11-20 re-delivered: the answer is now bystander's; its rows replace the day's old ones
    shutil.rmtree(exports / "dt=2026-11-20")
    write_export(exports, "2026-11-20", "part-0000.jsonl", [
        ev("a-1", "bot_message", "2026-11-20T10:00:00Z", user="bystander", message_id="m-ans"),
    ])
    _pending_after_load(conn, exports, "2026-11-20")
    assert sorted(conn.execute("select * from raw.answer_owners").fetchall()) == [
        (dt.date(2026, 11, 20), "acme-support", "m-ans", "bystander"),
        (dt.date(2026, 11, 21), "acme-support", "m-ans", "copycat"),
    ]


def test_a_warehouse_loaded_before_answer_owners_existed_gets_them_from_raw_events(tmp_path):
    conn, exports = _answers_loaded_feedback_written(tmp_path)
    conn.execute("drop table raw.answer_owners")  # as an older loader left the warehouse
    assert ("acme-support", "owner") in _pending_after_load(conn, exports, "2026-11-23")
    assert conn.execute("select count(*) from raw.answer_owners where export_date = '2026-11-20'").fetchone() == (3,)


# ------------------------------------------------- user agents parsed by uap-core (raw.user_agents) ---
# kpis.md "Users": device and browser by uap-core's rules, which the loader applies with the
# `ua-parser` package to each User-Agent string it has not seen (load/user_agents.py). Strings whose
# families SQL substring tests got wrong: a browser named after the Chrome or Safari it is built on,
# an app's own client, a crawler, an OS named by its device.
UAP_CORE_CASES = {  # user agent: (browser, OS family, device family), as uap-core 202610 names them
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "YaBrowser/24.1.0.0 Safari/537.36": ("Yandex Browser", "Windows", "Other"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/400.0]": ("Facebook", "iOS", "iPhone"),
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko": ("IE", "Windows", "Other"),
    "MyApp/1.0 CFNetwork/1335.0.3 Darwin/21.6.0": ("MyApp", "iOS", "iOS-Device"),
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": ("Googlebot", "Other", "Spider"),
    "curl/8.4.0": ("curl", "Other", "Other"),
    "not a browser at all": ("Other", "Other", "Other"),
}


def test_each_new_user_agent_is_parsed_once_with_uap_core(tmp_path):
    import duckdb
    from ua_parser import parse

    from orchestration.load.raw import load_export_day
    from orchestration.load.user_agents import parser_version

    exports = tmp_path / "exports"
    agents = list(UAP_CORE_CASES)
    write_export(exports, "2026-11-20", "part-0000.jsonl",
                 [ev(f"ua-{n}", at="2026-11-20T10:00:00Z", user=f"u{n}", user_agent=ua) for n, ua in enumerate(agents)]
                 + [ev("no-ua", at="2026-11-20T10:00:00Z", user="plain")])
    write_export(exports, "2026-11-21", "part-0000.jsonl",
                 [ev("again", at="2026-11-21T10:00:00Z", user_agent=agents[0])])
    conn = duckdb.connect()
    for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 21)):
        load_export_day(conn, exports, day)
    rows = conn.execute(
        "select user_agent, browser, os_family, device_family, parsed_by from raw.user_agents").fetchall()
    assert sorted(r[0] for r in rows) == sorted(agents)  # one row a string, none for an event without one
    assert {r[0]: r[1:4] for r in rows} == UAP_CORE_CASES
    assert {r[4] for r in rows} == {parser_version()}
    for ua, browser, os_family, device, _ in rows:  # the package, as it says itself
        result = parse(ua)
        assert (browser, os_family, device) == tuple(
            part.family if part else "Other" for part in (result.user_agent, result.os, result.device))


def test_user_agents_are_parsed_for_an_older_warehouse_and_again_after_a_parser_upgrade(tmp_path):
    import duckdb

    from orchestration.load.raw import ensure_raw_schema, load_export_day
    from orchestration.load.user_agents import parser_version

    exports = tmp_path / "exports"
    first, second = list(UAP_CORE_CASES)[:2]
    write_export(exports, "2026-11-20", "part-0000.jsonl", [ev("a", at="2026-11-20T10:00:00Z", user_agent=first)])
    conn = duckdb.connect()
    load_export_day(conn, exports, dt.date(2026, 11, 20))
    conn.execute("drop table raw.user_agents")  # as a loader before the table left the warehouse
    ensure_raw_schema(conn)
    assert conn.execute("select user_agent, browser from raw.user_agents").fetchall() == [
        (first, UAP_CORE_CASES[first][0])]
    # rows of another parser (an upgrade of ua-parser or of uap-core's rules) are parsed again
    conn.execute("update raw.user_agents set browser = 'stale', parsed_by = 'ua-parser 0.0'")
    write_export(exports, "2026-11-21", "part-0000.jsonl", [ev("b", at="2026-11-21T10:00:00Z", user_agent=second)])
    load_export_day(conn, exports, dt.date(2026, 11, 21))
    assert sorted(conn.execute("select user_agent, browser, parsed_by from raw.user_agents").fetchall()) == sorted([
        (first, UAP_CORE_CASES[first][0], parser_version()), (second, UAP_CORE_CASES[second][0], parser_version())])


def test_a_parser_upgrade_changes_the_fingerprint_that_owes_a_full_rebuild(monkeypatch):
    """Every user's device may change with the parser: its version is in the fingerprint of the
    build's inputs, whose change rebuilds every model (refresh_state.seeds_changed)."""
    from orchestration.build import refresh_state

    before = refresh_state.seeds_fingerprint()
    monkeypatch.setattr(refresh_state, "parser_version", lambda: "ua-parser 9.9, uap-core 209912")
    assert refresh_state.seeds_fingerprint() != before


def test_a_new_models_revision_changes_the_fingerprint_that_owes_a_full_rebuild(monkeypatch):
    """A change of the models that alters rows an incremental refresh keeps (an id's derivation)
    raises MODELS_REVISION: a warehouse built at another revision is rebuilt whole by its next refresh."""
    from orchestration.build import refresh_state

    before = refresh_state.seeds_fingerprint()
    monkeypatch.setattr(refresh_state, "MODELS_REVISION", str(int(refresh_state.MODELS_REVISION) + 1))
    assert refresh_state.seeds_fingerprint() != before


def test_models_new_to_a_warehouse_are_found_for_a_full_rebuild(tmp_path):
    """A model the build file lacks although its models were built (new in an upgrade) owes a full
    rebuild; a build file with no models yet owes nothing (its first build is complete anyway)."""
    from orchestration.build.refresh_state import models_missing

    build = tmp_path / ".w.build.duckdb"
    relations = [("intermediate", "int_a"), ("marts", "fct_b"), ("marts", "fct_c")]
    assert models_missing(build, relations) == []
    with duckdb.connect(str(build)) as conn:
        conn.execute("create schema marts; create schema intermediate; create table marts.fct_b (x int)")
        conn.execute("create view intermediate.int_a as select 1 as x")
    assert models_missing(build, relations) == ["marts.fct_c"]


def test_a_day_delivered_again_drops_the_user_agents_no_event_holds(tmp_path):
    """raw.user_agents holds exactly the strings of raw.events, as a full reload leaves it."""
    import duckdb

    from orchestration.load.raw import load_export_day

    exports = tmp_path / "exports"
    a, b, c = list(UAP_CORE_CASES)[:3]
    write_export(exports, "2026-11-20", "part-0000.jsonl", [ev("e1", at="2026-11-20T10:00:00Z", user_agent=a),
                                                            ev("e2", at="2026-11-20T10:00:00Z", user_agent=b)])
    write_export(exports, "2026-11-21", "part-0000.jsonl", [ev("e3", at="2026-11-21T10:00:00Z", user_agent=a)])
    conn = duckdb.connect()
    for day in ("2026-11-20", "2026-11-21"):
        load_export_day(conn, exports, dt.date.fromisoformat(day))
    shutil.rmtree(exports / "dt=2026-11-20")  # delivered again: b gone, a still on the 21st, c new
    write_export(exports, "2026-11-20", "part-0000.jsonl", [ev("e4", at="2026-11-20T10:00:00Z", user_agent=c)])
    load_export_day(conn, exports, dt.date(2026, 11, 20))
    assert sorted(r[0] for r in conn.execute("select user_agent from raw.user_agents").fetchall()) == sorted([a, c])
    reloaded = duckdb.connect()
    for day in ("2026-11-20", "2026-11-21"):
        load_export_day(reloaded, exports, dt.date.fromisoformat(day))
    assert sorted(conn.execute("select * from raw.user_agents").fetchall()) == sorted(
        reloaded.execute("select * from raw.user_agents").fetchall())


# ------------------------------------------------- the loader's revision -----------------------
# The code that judges export lines, on both engines. A change of it that judges some line otherwise
# must raise LOADER_REVISION (exports.py): the days loaded before are then loaded again. Twice that
# was forgotten (revision 3 came late), so each change of this code is reviewed: either the revision
# is raised, or the new digest is added under the current revision as judging no line otherwise.
LOADER_SOURCES = ("orchestration/load/raw.py", "orchestration/load/validation.py",
                  "orchestration/load/exports.py", "orchestration/load/spark_load.py")
REVIEWED_LOADER_DIGESTS = {
    3: {"06f1bbc6a536e1e7",
        "2fed18d1c96bb25e",  # DT= folders named as misnamed: no line judged otherwise
        "ce2680b2b69d740c",  # linked day folders named, a missing day's cause said: no line judged otherwise
        "35654ba236042931",  # a day whose listed file went while it loaded is left as it was: no line judged otherwise
        "3d0cdf9bd2f70901",  # the process check from orchestration/processes.py: no line judged otherwise
        "d5b8071b8b8f2a78",  # the careful path reads a plain file once: no line judged otherwise
        "6dcf3f0bc6fee578",  # its copy's read back blamed on the temporary folder: no line judged otherwise
        "7a9403c378caf467",  # newest_change, shared by the sensor and status: no line judged otherwise
        "48d7daa35cd354eb",  # change_times, read per file by status: no line judged otherwise
        "bcccfbfc0968255e",  # a copy that fails closes the export file at once: no line judged otherwise
        "cb84ab860c485b1c",  # both loaders judge a read error by gone_or_unreadable: no line judged otherwise
        "cf0df245729a27d3",  # range_gap_notes names a range's linked day folders: no line judged otherwise
        "c89a1f731349ed3f",  # a range whose only day folders are links says so: no line judged otherwise
        "136917334150e65b",  # on_file_read after each file of a day: no line judged otherwise
        "cee5e8c6dd6e6c91",  # the all-links range's wording: no line judged otherwise
        "a832ea25e5a7f025",  # one note for linked day folders, one helper for their names: no line judged otherwise
        "7f00e88f92d149c6",  # a damaged member's lines not noted as invalid_utf8: no line judged otherwise
        "f2870cd939fc64d3",  # a file named as a day's folder named, not passed over: no line judged otherwise
        "05a1093a62f4bd41",  # one wording of misnamed day folders for every line: no line judged otherwise
        "ddbeb389f4019b6d",  # export_day_folder_holding, for what may not write there: no line judged otherwise
        "bcd43bd185851a3b",  # no_exports_folder, one reason for every way days are given: no line judged otherwise
        "cc361de9846e26d2",  # named_as_day_folder, one test of the name for all: no line judged otherwise
        "8ecb27571dcc6d84"},  # a range of one day named as `--day` names it: no line judged otherwise
    # a lone surrogate escape kept as text: such a line loads (was invalid_json); and folders named like
    # an export file named by the run, as links are
    4: {"c6b63389d233aeff",
        "8228796fdbfdc131",  # names with white space at an end quoted in the links' note: no line judged otherwise
        "52c3733b041547ee",  # the Spark loader removes a day's raw.export_days row before its other writes
        },
}


def test_a_change_of_the_loaders_code_is_reviewed_for_its_revision():
    from orchestration.load.exports import LOADER_REVISION

    digest = hashlib.sha256()
    for name in LOADER_SOURCES:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    assert digest.hexdigest()[:16] in REVIEWED_LOADER_DIGESTS.get(LOADER_REVISION, set()), (
        f"the loader's code changed (digest {digest.hexdigest()[:16]}): if it judges any line otherwise, "
        "raise LOADER_REVISION in orchestration/load/exports.py; either way, add the digest to "
        "REVIEWED_LOADER_DIGESTS under the revision")


def test_a_day_of_many_files_tells_how_many_are_read_while_it_loads(tmp_path, monkeypatch):
    """A day is read file by file: the loader says after each file how many of the day's files it
    has read, and a refresh's load shows that at most every 10 s (a day of thousands of small files
    reads for minutes, with nothing else to show until the day is loaded). A loader rule: no refresh."""
    import duckdb

    from orchestration.build import loading, progress
    from orchestration.load.raw import load_export_day

    exports = tmp_path / "exports"
    for n in range(3):
        write_export(exports, "2026-11-20", f"part-{n:04d}.jsonl", [ev(f"e{n}", at="2026-11-20T10:00:00Z")])
    calls = []
    with duckdb.connect() as conn:
        load_export_day(conn, exports, dt.date(2026, 11, 20), on_file_read=lambda *c: calls.append(c))
    assert calls == [(1, 3), (2, 3), (3, 3)]

    lines, now = [], [100.0]
    monkeypatch.setattr(progress, "_listener", lines.append)
    report = loading.files_read_reporter(dt.date(2026, 11, 20), clock=lambda: now[0])
    for done, seconds in ((1, 4.0), (2, 6.5), (3, 2.0), (4, 12.0), (20_000, 30.0)):
        now[0] += seconds
        report(done, 20_000)
    assert lines == ["export day 2026-11-20: 2 of 20,000 files read", "export day 2026-11-20: 4 of 20,000 files read"]
