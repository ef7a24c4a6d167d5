"""The seeds a deployment edits, checked before a refresh loads anything (orchestration/build/seeds.py).

Each rule of the seeds' dbt tests (not_null, unique, assert_channel_timeouts_positive,
assert_assistant_timezones_are_valid) is one line naming the file, the line and what is allowed. A
seed is read as dbt-duckdb loads it (`COPY ... FROM`, below): a byte order mark, blank lines, CRLF
line ends, a quoted empty value, spaces around quotes, another case in a column name, whole numbers
written as DuckDB casts them; what DuckDB cannot read is that line. The CLI's and Dagster's runs
that stop on a bad seed: test_seed_changes.py and test_dagster.py."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from orchestration.build.seeds import SEEDS_DIR, check_seeds
from orchestration.errors import UserError

CHANNELS_HEADER = b"channel,inactivity_timeout_minutes\n"
ASSISTANTS_HEADER = b"assistant_id,name,timezone\n"


@pytest.fixture
def seeds(tmp_path):
    """A copy of the project's seeds; returns a function that writes one of them and checks both."""
    for path in SEEDS_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path)

    def with_seed(name: str, content: bytes) -> None:
        (tmp_path / name).write_bytes(content)
        check_seeds(tmp_path)

    return with_seed


def test_the_projects_seeds_pass():
    check_seeds()


# (what the seed holds, what the one line says)
BAD_CHANNELS = [
    (CHANNELS_HEADER + b"web,30\nvoice,0\n",
     "channels.csv line 3: inactivity_timeout_minutes '0' of channel 'voice' is not valid: expected a whole "
     "number of minutes above 0, or empty for no timeout"),
    (CHANNELS_HEADER + b"web,-5\n", "line 2: inactivity_timeout_minutes '-5' of channel 'web' is not valid"),
    (CHANNELS_HEADER + b"web,abc\n", "line 2: inactivity_timeout_minutes 'abc' of channel 'web' is not valid"),
    # DuckDB would round it to 31 minutes without a word
    (CHANNELS_HEADER + b"web,30.6\n", "line 2: inactivity_timeout_minutes '30.6' of channel 'web' is not valid"),
    (CHANNELS_HEADER + b"web, \n", "line 2: inactivity_timeout_minutes ' ' of channel 'web' is not valid"),
    (CHANNELS_HEADER + b"web,2147483648\n", "inactivity_timeout_minutes '2147483648' of channel 'web' is not valid"),
    (CHANNELS_HEADER + b"web,30\nsms,5\nweb,20\n", "channels.csv line 4: channel 'web' is listed twice (line 2 too)"),
    (CHANNELS_HEADER + b",5\n", "channels.csv line 2: channel is empty"),
    (CHANNELS_HEADER + b'"",5\n', "channels.csv line 2: channel is empty"),
    # a no-break space (pasted from a web page): DuckDB's cast refuses it, as dbt's load would
    (CHANNELS_HEADER + "web,\u00a030\n".encode(), "inactivity_timeout_minutes '\\xa030' of channel 'web'"),
    # what DuckDB reads around quotes: no space is left of them (a key twice, an empty key)
    (CHANNELS_HEADER + b'"web" ,30\nweb,20\n', "channels.csv line 3: channel 'web' is listed twice (line 2 too)"),
    (CHANNELS_HEADER + b'"" ,30\n', "channels.csv line 2: channel is empty"),
    # a row is named by the line it starts on
    (CHANNELS_HEADER + b'"multi\nline",5\nsms,0\n', "channels.csv line 4: inactivity_timeout_minutes '0'"),
    (CHANNELS_HEADER + b'"multi\nline",0\n', "channels.csv line 2: inactivity_timeout_minutes '0' of channel "
     "'multi\\nline'"),
    # what DuckDB cannot read, as dbt's load could not
    (CHANNELS_HEADER + b"web\n", "channels.csv line 2: 1 value, but its first line names 2 columns"),
    # a trailing comma, as spreadsheets write: DuckDB's reader drops the value, dbt's refuses the row
    (CHANNELS_HEADER + b"web,30\nsms,10,\n", "channels.csv line 3: 3 values, but its first line names 2 columns"),
    # dbt names the column as written, spaces and all; the models would not find it
    (b"channel, inactivity_timeout_minutes\nweb,30\n", "(inactivity_timeout_minutes missing)"),
    # `web ` is not the exports' `web`, which would keep the default 30 minutes
    (CHANNELS_HEADER + b"web ,45\n", "channels.csv line 2: channel 'web ' has spaces around it, which count: did "
     "you mean 'web'?"),
    (b"channel,inactivity_timeout_minutes\r\nweb,30\r\nsms,10\n", "channels.csv: DuckDB cannot read it as dbt "
     "loads a seed (Invalid Input Error: Error when sniffing file"),
    (CHANNELS_HEADER + b"web,30\n  \nsms,5\n", "channels.csv line 3: 1 value, but its first line names 2 columns"),
    (b"channel,inactivity_timeout_minutes,CHANNEL\nweb,30,x\n", "channels.csv: its first line names channel more "
     "than once"),
    (b"channel,timeout\nweb,30\n", "channels.csv: its first line must name the columns "
     "channel,inactivity_timeout_minutes (inactivity_timeout_minutes missing)"),
    (b"", "channels.csv: its first line must name the columns channel,inactivity_timeout_minutes "
     "(channel, inactivity_timeout_minutes missing)"),
    (CHANNELS_HEADER + b"web,30\ncaf\xe9,30\n", "channels.csv line 3: not UTF-8 text (byte 0xe9): save the file "
     "as UTF-8"),
    (b"\xffchannel,inactivity_timeout_minutes\n", "channels.csv line 1: not UTF-8 text (byte 0xff)"),
    # DuckDB's reader of text columns would take `#` for a comment; its COPY into the typed table does not
    (CHANNELS_HEADER + b"#note,x\nweb,30\n", "channels.csv line 2: inactivity_timeout_minutes 'x' of channel '#note'"),
    (CHANNELS_HEADER + b'web,30\n"sms,5\nvoice,\n', "channels.csv line 3: a quote opened on this line is never "
     'closed (a quote inside a value is written "")'),
]
BAD_ASSISTANTS = [
    (ASSISTANTS_HEADER + b"acme,Acme,Europe/Roma\n",
     "assistants.csv line 2: timezone 'Europe/Roma' of assistant 'acme' is not a time zone DuckDB knows "
     "(did you mean 'Europe/Rome'?)"),
    (ASSISTANTS_HEADER + b"acme,Acme,Mars/Olympus_Mons\n", "is not a time zone DuckDB knows (an IANA name, e.g. "
     "'Europe/Rome';"),
    # zone names are exact, as the dbt test compares them
    (ASSISTANTS_HEADER + b"acme,Acme,europe/rome\n", "timezone 'europe/rome' of assistant 'acme' is not a time "
     "zone DuckDB knows (did you mean 'Europe/Rome'? names are case-sensitive)"),
    # an offset is not "corrected" to another one (difflib's closest to GMT+3 is GMT+0)
    (ASSISTANTS_HEADER + b"acme,Acme,GMT+3\n", "timezone 'GMT+3' of assistant 'acme' is not a time zone DuckDB "
     "knows (an IANA name, e.g. 'Europe/Rome'; a fixed offset of UTC+3 is 'Etc/GMT-3', its sign reversed)"),
    (ASSISTANTS_HEADER + b"acme,,UTC\n", "assistants.csv line 2: the name of assistant 'acme' is empty"),
    (ASSISTANTS_HEADER + b"acme,Acme,\n", "assistants.csv line 2: the timezone of assistant 'acme' is empty"),
    (ASSISTANTS_HEADER + b"acme,A,UTC\nacme,B,UTC\n", "assistants.csv line 3: assistant_id 'acme' is listed twice"),
    (ASSISTANTS_HEADER + b",A,UTC\n", "assistants.csv line 2: assistant_id is empty"),
    (ASSISTANTS_HEADER + b" acme,A,UTC\n", "assistants.csv line 2: assistant_id ' acme' has spaces around it"),
    (b"assistant,name,timezone\n", "(assistant_id missing)"),
]


@pytest.mark.parametrize(("seed", "content", "says"), [
    *(("channels.csv", content, says) for content, says in BAD_CHANNELS),
    *(("assistants.csv", content, says) for content, says in BAD_ASSISTANTS),
])
def test_a_bad_seed_is_one_line_naming_its_line(seeds, seed, content, says):
    with pytest.raises(UserError) as refused:
        seeds(seed, content)
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_on_spark_a_zone_duckdb_does_not_know_is_left_to_sparks_test(seeds, monkeypatch):
    """Spark's time zones are Java's (`GMT+3` is one); its dbt test judges them."""
    monkeypatch.setenv("ANALYTICS_ENGINE", "spark")
    seeds("assistants.csv", ASSISTANTS_HEADER + b"acme,Acme,GMT+3\n")
    monkeypatch.setenv("ANALYTICS_ENGINE", "duckdb")
    with pytest.raises(UserError, match="timezone 'GMT[+]3' of assistant 'acme' is not a time zone DuckDB knows"):
        seeds("assistants.csv", ASSISTANTS_HEADER + b"acme,Acme,GMT+3\n")


def test_seeds_written_otherwise_that_duckdb_reads_alike_pass(seeds):
    seeds("assistants.csv", ASSISTANTS_HEADER + b'acme,Acme, "Europe/Rome"\nb,B,Etc/GMT+3\nc,C,US/Eastern\n')
    seeds("assistants.csv", b"TIMEZONE,Assistant_Id,name,notes\nUTC,acme,Acme,x\n")
    seeds("channels.csv", CHANNELS_HEADER)  # no channel listed: every channel has 30 minutes


def test_a_missing_seed_is_named(seeds, tmp_path):
    (tmp_path / "channels.csv").unlink()
    with pytest.raises(UserError, match=rf"^{tmp_path / 'channels.csv'} is missing or not a file: dbt loads it as a "
                                        "seed, which every refresh needs$"):
        seeds("assistants.csv", (tmp_path / "assistants.csv").read_bytes())


def test_the_line_names_the_seeds_full_path(seeds, tmp_path):
    with pytest.raises(UserError, match=rf"^{tmp_path / 'channels.csv'} line 2: "):
        seeds("channels.csv", CHANNELS_HEADER + b"web,0\n")


# Read as DuckDB's reader reads them, and as dbt-duckdb loads a seed: each passes the check, and the
# COPY gives these rows.
READ_AS_DUCKDB_DOES = [
    (b"\xef\xbb\xbf" + CHANNELS_HEADER + b"web,30\n", [("web", 30)]),
    (CHANNELS_HEADER.replace(b"\n", b"\r\n") + b"web,30\r\n\r\nvoice,\r\n\r\n", [("web", 30), ("voice", None)]),
    (CHANNELS_HEADER + b'web,""\nsms," 45 "\n', [("web", None), ("sms", 45)]),
    # whole numbers however written, as DuckDB casts them
    (CHANNELS_HEADER + b'web,30.0\nsms,+30\nchat,3e1\nmail, "30"\n', [("web", 30), ("sms", 30), ("chat", 30),
                                                                         ("mail", 30)]),
    (b"Channel,INACTIVITY_TIMEOUT_MINUTES\nweb,30\n", [("web", 30)]),
    (b"inactivity_timeout_minutes,channel\n30,web\n", [("web", 30)]),
]


@pytest.mark.parametrize(("content", "rows"), READ_AS_DUCKDB_DOES)
def test_a_seed_duckdb_reads_passes_as_it_reads_it(seeds, tmp_path, content, rows):
    seeds("channels.csv", content)
    header = content.removeprefix(b"\xef\xbb\xbf").splitlines()[0].decode()
    types = {"channel": "varchar", "inactivity_timeout_minutes": "integer"}
    conn = duckdb.connect()
    try:
        # the table of the file's columns, typed as the seed's column_types (by their names in lower
        # case), filled as dbt-duckdb fills it
        conn.execute(f"create table seed ({', '.join(f'{n} {types[n.lower()]}' for n in header.split(','))})")
        conn.execute(f"copy seed from '{tmp_path / 'channels.csv'}' (FORMAT CSV, HEADER TRUE, DELIMITER ',')")
        assert conn.execute("select channel, inactivity_timeout_minutes from seed").fetchall() == rows
    finally:
        conn.close()
