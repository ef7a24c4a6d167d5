"""The command line catches mistakes (issue 18 points 3, 4, 6; issue 22 point 3).

Parser rules, refresh option checks, the tidy walk of the report, the refresh record and output
path checks are unit tests. The rest runs the CLI on one module-scoped warehouse: three export
days with a gap (2026-11-20, 2026-11-21, 2026-11-23), built by one `refresh --all`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import unicodedata
from argparse import _SubParsersAction
from pathlib import Path

import duckdb
import pytest
from conftest import (
    CLI,
    REPO,
    Workspace,
    copy_warehouse,
    duckdb_blocks,
    environment_without_settings,
    event,
    process_group_gone,
    slow_fixture,
    with_a_damaged_block,
    write_export,
)

from orchestration.cli import main as cli
from orchestration.cli.commands import check_demo_days, check_refresh_days
from orchestration.errors import UserError
from orchestration.serve.exporting import check_output, tidy_report
from orchestration.serve.report import format_table
from orchestration.serve.status import collect_status, format_status, record_path_for, recording_refresh

ACME = "acme-support"  # Europe/Rome in seeds/assistants.csv
D1, D2, D4 = "2026-11-20", "2026-11-21", "2026-11-23"  # 2026-11-22 is not delivered
NEWEST_EVENT = f"{D4}T15:30:00Z"


SETTINGS_SET_TO_NOTHING = ("ANALYTICS_DBT_THREADS", "ANALYTICS_DBT_THREADS_FULL", "ANALYTICS_DUCKDB_MEMORY_LIMIT",
                           "ANALYTICS_DUCKDB_THREADS", "ANALYTICS_DBT_TESTS", "ANALYTICS_ENGINE", "ANALYTICS_VERBOSE",
                           "ANALYTICS_LOCK_TIMEOUT_SECONDS", "ANALYTICS_MAX_DAYS_PER_RUN",
                           "ANALYTICS_MAX_EXPORT_MB_PER_RUN")


def test_a_line_break_in_what_an_error_or_a_note_names_is_shown_escaped(capsys):
    """An unknown argument, or an assistant id of the exports, with a line break in it split the
    parser's error and the report's notes over two lines (docs/cli.md: one line, `\\n` shown)."""
    from orchestration.cli.commands import note

    proc = subprocess.run([CLI, "report", "--assistant", "a", "--from", "2026-11-20", "--to", "2026-11-22",
                           "--fo\nrmat"], capture_output=True, text=True, env=environment_without_settings(),
                          timeout=120)
    assert one_line_error(proc).startswith("assistant-analytics: error: unrecognized arguments: --fo\\nrmat")
    note("no data for assistant 'evil\nco' on channel 'web\u2028x'")
    assert capsys.readouterr().err.splitlines() == [
        "assistant-analytics: note: no data for assistant 'evil\\nco' on channel 'web\\u2028x'"]


def one_line_error(proc) -> str:
    """The single stderr line of a user error (exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("assistant-analytics: error: "), lines[0]
    return lines[0]


# ----------------------------------------------------------------------------- the parser

def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, _SubParsersAction))
    return action.choices


def test_every_option_has_help_and_every_help_shows_examples():
    parser = cli.build_parser()
    commands = _subparsers(parser)
    assert {"demo", "refresh", "report", "export", "status", "dashboard"} <= set(commands)
    for name, sub in [("(top)", parser), *commands.items()]:
        for action in sub._actions:
            if isinstance(action, _SubParsersAction):
                continue
            assert action.help and action.help.strip(), f"{name}: {action.option_strings or action.dest} has no help"
        text = sub.format_help()
        assert "examples:" in text, f"{name} --help shows no examples"
        # Examples keep their lines (RawDescriptionHelpFormatter): each starts with the program.
        example_lines = text.split("examples:", 1)[1].strip().splitlines()
        assert example_lines[0].strip().startswith("assistant-analytics"), text
        # each runs as pasted into a shell: its words parse, a comment after `#` is the shell's
        for line in example_lines:
            if line.strip().startswith("assistant-analytics "):
                cli.parse_args(shlex.split(line, comments=True)[1:])


def test_version_prints_the_package_version_and_the_clones_commit(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["--version"])
    assert exc.value.code == 0
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    if not (REPO / ".git").exists():
        assert capsys.readouterr().out.strip() == f"assistant-analytics {declared}"
        return
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert capsys.readouterr().out.strip() == f"assistant-analytics {declared} (commit {head[:12]})"


@pytest.mark.parametrize("layout", ["loose ref", "packed ref", "detached", "worktree"])
def test_the_commit_is_read_from_the_clones_git_folder_without_git(tmp_path, monkeypatch, layout):
    """A nightly job's PATH may have no git: `.git` is read as git writes it, in each layout."""
    from orchestration.cli import main as cli_main

    commit = "0123456789abcdef0123456789abcdef01234567"
    clone = tmp_path / "clone"
    git = clone / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    if layout == "loose ref":
        (git / "refs" / "heads" / "main").write_text(commit + "\n")
    elif layout == "packed ref":
        (git / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted\n{commit} refs/heads/main\n")
    elif layout == "detached":
        (git / "HEAD").write_text(commit + "\n")
    else:  # the clone is a worktree of another clone: its .git is a file naming its own folder
        main_git = tmp_path / "main" / ".git"
        (main_git / "refs" / "heads").mkdir(parents=True)
        (main_git / "refs" / "heads" / "fix").write_text(commit + "\n")
        own = main_git / "worktrees" / "clone"
        own.mkdir(parents=True)
        (own / "HEAD").write_text("ref: refs/heads/fix\n")
        (own / "commondir").write_text("../..\n")
        shutil.rmtree(git)
        git.write_text(f"gitdir: {own}\n")
    monkeypatch.setattr("orchestration.settings.PROJECT_ROOT", clone)
    assert cli_main.checkout_commit() == commit[:12]
    if layout == "loose ref":  # a branch that is a ref to another ref: no commit named, not its text
        (git / "refs" / "heads" / "main").write_text("ref: refs/heads/other\n")
        assert cli_main.checkout_commit() is None
    shutil.rmtree(git) if git.is_dir() else git.unlink()
    assert cli_main.checkout_commit() is None  # not a clone: the version alone


@pytest.mark.parametrize("typed, suggestion", [("reprot", "report"), ("stauts", "status"), ("exprot", "export")])
def test_a_mistyped_command_is_one_line_with_a_suggestion(capsys, typed, suggestion):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args([typed, "--assistant", ACME])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"did you mean '{suggestion}'" in err[0], err


@pytest.mark.parametrize("argv, suggestion", [
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "--chanel", "web"], "--channel"),
    (["refresh", "--dya", D1], "--day"),
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "--formt=json"], "--format"),
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "--zzz"], None),
    # a required option mistyped: the typo is named, not the option it left missing
    (["report", "--assistant", ACME, "--from", D1, "--too", D2], "--to"),
    (["export", "--asistant", ACME, "--from", D1, "--to", D2, "--out", "x.csv"], "--assistant"),
    # a prefix is not taken as the option it begins (argparse's default), nor a typo as another option
    (["report", "--assistant", ACME, "--fro", D1, "--to", D2], "--from"),
    (["export", "fct_chats", "--out", "x.csv"], "--output"),
    (["report", "--assistant", ACME, "--form", D1, "--to", D2], "--format' or '--from"),
    # a short option, named though the one it stands for is required and now missing
    (["export", "fct_chats", "-O", "x.csv"], "-o"),
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "-x"], None),
    # before any command (argparse said only that COMMAND was missing)
    (["--versoin"], "--version"),
    (["--hlep"], "--help"),
    (["-v", "status"], None),
])
def test_a_mistyped_option_is_one_line_with_a_suggestion(capsys, argv, suggestion):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments" in err[0], err
    if suggestion:
        assert err[0].endswith(f"; did you mean '{suggestion}'?"), err
    else:
        assert "did you mean" not in err[0], err


@pytest.mark.parametrize("argv, example", [
    (["--warehouse", "x.duckdb", "status"], "assistant-analytics status --warehouse ..."),
    (["--warehouse=x.duckdb"], "assistant-analytics COMMAND --warehouse ..."),
    (["--assistant", ACME, "report", "--from", D1, "--to", D2], "assistant-analytics report --assistant ..."),
])
def test_a_commands_option_before_the_command_is_one_line_that_says_where_it_goes(capsys, argv, example):
    """argparse took the option's value for the command ("invalid choice: 'x.duckdb'") or said only
    that COMMAND was missing."""
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    name = argv[0].split("=")[0]
    assert capsys.readouterr().err.strip().splitlines() == [
        f"assistant-analytics: error: {name} is an option of the commands: give it after the command ({example})"]


# A connection whose close is interrupted, as Ctrl-C lands while Dagster closes its SQLite storage
# at the end of a refresh (seen in 2 of 13 interrupted refreshes): SQLAlchemy's pool logs it.
INTERRUPTED_CLOSE = """
import sqlite3, sys
import sqlalchemy
from orchestration.cli.main import quiet_library_logs

if sys.argv[1:] == ["quiet"]:
    quiet_library_logs()


class Interrupted:
    def __init__(self):
        self._connection = sqlite3.connect(":memory:")

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def close(self):
        self._connection.close()
        raise KeyboardInterrupt


engine = sqlalchemy.create_engine("sqlite://", creator=Interrupted, poolclass=sqlalchemy.pool.QueuePool)
with engine.connect() as conn:
    conn.execute(sqlalchemy.text("select 1"))
try:
    engine.dispose()
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_connection_close_that_ctrl_c_interrupts_prints_no_traceback(tmp_path):
    """Without the CLI's setting, SQLAlchemy's pool prints "Exception closing connection" and a
    traceback through logging's last resort, ahead of the CLI's "interrupted"; with it, nothing."""
    script = tmp_path / "interrupted_close.py"
    script.write_text(INTERRUPTED_CLOSE)
    plain, quiet = (subprocess.run([sys.executable, str(script), *mode], capture_output=True, text=True, timeout=60)
                    for mode in ([], ["quiet"]))
    assert plain.stdout == quiet.stdout == "interrupted\n"
    assert "Exception closing connection" in plain.stderr and "Traceback" in plain.stderr  # the case happens
    assert quiet.stderr == ""


def test_a_negative_number_is_a_value_not_an_option():
    assert cli.parse_args(["demo", "--seed", "-5"]).seed == -5


@pytest.mark.parametrize("argv", [
    ["report", "--assistant", ACME, "--from", "20261101", "--to", D2],  # Python's fromisoformat takes these
    ["report", "--assistant", ACME, "--from", "2026-W47-1", "--to", D2],
    ["export", "fct_chats", "-o", "x.csv", "--from", D1, "--to", "2026W471"],
    ["refresh", "--day", "2026-W47-7"],
    ["refresh", "--day", "2026-11-1"],
    ["refresh", "--day", "2026-02-30"],
    ["dashboard", "--port", "99999"],
    ["dashboard", "--port", "0"],
    ["dashboard", "--port", "http"],
], ids=["basic-form", "week-date", "compact-week-date", "refresh-week-date", "one-digit-day", "no-such-day",
        "port-too-large", "port-zero", "port-not-a-number"])
def test_a_malformed_date_or_port_is_one_line_naming_the_form(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("not a date (YYYY-MM-DD)" in err[0] or "not a port number (1-65535)" in err[0]), err


@pytest.mark.parametrize("argv, option", [
    (["report", "--assistant", ACME, "--assistant", "globex-sales", "--from", D1, "--to", D2], "--assistant"),
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "--to", D1], "--to"),
    (["export", "fct_chats", "-o", "a.csv", "--output", "b.csv"], "--output/-o"),
    (["status", "--format", "json", "--format", "table"], "--format"),
    (["demo", "--days", "3", "--days", "5"], "--days"),
], ids=["assistant", "to", "output-by-alias", "format", "days"])
def test_an_option_given_twice_is_one_line_not_its_last_value(capsys, argv, option):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"assistant-analytics: error: argument {option}: given more than once; give it once"]


@pytest.mark.parametrize("argv, argument", [
    (["report", "--assistant", "acme\udcff", "--from", D1, "--to", D2], "--assistant"),
    (["report", "--assistant", ACME, "--from", D1, "--to", D2, "--channel", "w\udcffeb"], "--channel"),
    (["export", "fct\udcff", "-o", "-"], "MART|report"),
    (["export", "fct_chats", "-o", "-", "--assistant", "acme\udcff"], "--assistant"),
], ids=["report-assistant", "report-channel", "export-mart", "export-assistant"])
def test_an_id_that_is_not_utf8_is_one_line_naming_it_not_a_damaged_warehouse(capsys, argv, argument):
    """Bytes that are not UTF-8 in an id (a shell's $'acme\\xff') reach Python as lone surrogates:
    they were passed to DuckDB, whose refusal was reported as a damaged warehouse file."""
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    shown = "acme\\xff" if "acme\udcff" in argv else "fct\\xff" if "fct\udcff" in argv else "w\\xffeb"
    assert err == [f"assistant-analytics: error: argument {argument}: not valid UTF-8: '{shown}'"]

def test_repeatable_and_flag_options_may_be_given_again():
    args = cli.parse_args(["refresh", "--day", D1, "--day", D2, "--full", "--full"])
    assert args.day == [dt.date.fromisoformat(D1), dt.date.fromisoformat(D2)] and args.full
    assert not hasattr(args, "_options_given")


@pytest.mark.parametrize("argv", [
    ["--day", D1, "--all"],
    ["--from", D1, "--to", D2, "--all"],
    ["--day", D1, "--from", D1, "--to", D2],
    ["--from", D1],
    ["--from", D2, "--to", D1],
], ids=["day+all", "range+all", "day+range", "from-alone", "from-after-to"])
def test_refresh_options_that_contradict_each_other_are_refused(argv):
    args = cli.parse_args(["refresh", *argv])
    with pytest.raises(UserError):
        check_refresh_days(args)


@pytest.mark.parametrize("argv", [["--day", D1, "--day", D2], ["--from", D1, "--to", D2], ["--all", "--full"],
                                  ["--full"], ["--day", D1, "--full"]])
def test_refresh_options_given_one_way_pass(argv):
    check_refresh_days(cli.parse_args(["refresh", *argv]))


# ----------------------------------------------------------------------------- the tidy walk

def test_tidy_report_gives_one_row_per_number_with_its_breakdown_keys():
    report = {
        "assistant_id": ACME, "timezone": "Europe/Rome", "from": D1, "to": D2, "channel": "web",
        "users": {"total": 3, "by_device": [{"device_type": "desktop", "browser": None, "users": 2}]},
        "handover": {"rate": None, "by_trigger": {"direct": 1}},
        "csat": {"distribution": {"1": 0, "5": 4}},
        "traffic": {"cells": [{"weekday": 1, "hour": 0, "messages": 7}]},
        "agents": {"rows": [{"agent_id": "a", "name": "A", "kind": "agent", "views": 5, "positive": 1}]},
        "daily": [{"date": D1, "users": 2, "csat_score": 4.5}],
        "previous": {"from": "2026-11-18", "to": "2026-11-19", "users": {"total": 1}},
    }
    rows = {(r["period"], r["module"], r["metric"],
             tuple(sorted((k, v) for k, v in r.items() if k in (
                 "device_type", "browser", "weekday", "hour", "agent_id", "name", "kind", "date") and v is not None))):
            r["value"] for r in tidy_report(report)}
    assert rows == {
        ("current", "users", "total", ()): 3,
        ("current", "users", "by_device.users", (("device_type", "desktop"),)): 2,
        ("current", "handover", "rate", ()): None,
        ("current", "handover", "by_trigger.direct", ()): 1,
        ("current", "csat", "distribution.1", ()): 0,
        ("current", "csat", "distribution.5", ()): 4,
        ("current", "traffic", "cells.messages", (("hour", 0), ("weekday", 1))): 7,
        ("current", "agents", "rows.views", (("agent_id", "a"), ("kind", "agent"), ("name", "A"))): 5,
        ("current", "agents", "rows.positive", (("agent_id", "a"), ("kind", "agent"), ("name", "A"))): 1,
        ("current", "daily", "users", (("date", D1),)): 2,
        ("current", "daily", "csat_score", (("date", D1),)): 4.5,
        ("previous", "users", "total", ()): 1,
    }
    first = tidy_report(report)[0]
    assert (first["assistant_id"], first["channel"], first["period_from"], first["period_to"]) == (ACME, "web", D1, D2)
    previous = [r for r in tidy_report(report) if r["period"] == "previous"]
    assert {(r["period_from"], r["period_to"]) for r in previous} == {("2026-11-18", "2026-11-19")}


def test_tidy_report_refuses_a_field_that_is_neither_number_nor_key():
    with pytest.raises(TypeError, match="clicks.rows.label"):
        tidy_report({"clicks": {"rows": [{"click_type": "x", "label": "not a key", "clicks": 1}]}})


# ----------------------------------------------------------------------------- the refresh record

def test_the_refresh_record_says_how_a_refresh_ended(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    days = [dt.date(2026, 11, 21), dt.date(2026, 11, 20)]
    with recording_refresh(warehouse, days, full=False):
        during = json.loads(record_path_for(warehouse).read_text())
    assert during["outcome"] == "running" and during["finished_at"] is None
    done = json.loads(record_path_for(warehouse).read_text())
    assert (done["outcome"], done["days"], done["full"], done["error"]) == ("succeeded", [D1, D2], False, None)
    assert done["seconds"] >= 0 and done["finished_at"] >= done["started_at"]

    with pytest.raises(UserError), recording_refresh(warehouse, [], full=True):
        raise UserError("refresh of 2026-11-20 .. 2026-11-20 failed: fct_chats: boom\nmore detail")
    failed = json.loads(record_path_for(warehouse).read_text())
    assert (failed["outcome"], failed["error"], failed["full"]) == (
        "failed", "refresh of 2026-11-20 .. 2026-11-20 failed: fct_chats: boom", True)

    # Ctrl-C or a `kill` (a KeyboardInterrupt without words): interrupted, no error to show
    with pytest.raises(KeyboardInterrupt), recording_refresh(warehouse, days, full=False):
        raise KeyboardInterrupt
    interrupted = json.loads(record_path_for(warehouse).read_text())
    assert (interrupted["outcome"], interrupted["error"]) == ("interrupted", None)


def test_a_refresh_that_fails_on_a_full_disk_is_recorded_as_failed_with_its_error(tmp_path, monkeypatch):
    """On a full disk no new file can be written beside the record to replace it: the refresh's end
    is written over the record's own bytes (its blocks), so `status` shows the failure and its error,
    not a refresh "interrupted" (killed?) because its record still said running."""
    import orchestration.serve.status as status

    warehouse = tmp_path / "wh.duckdb"
    days = [dt.date(2026, 11, 21)]
    disk_error = 'refresh of 2026-11-21 .. 2026-11-21 failed: Could not write file "wh.duckdb.wal": ' \
                 'No space left on device ' + "x" * 3000  # longer than the record's room: cut
    with pytest.raises(UserError), recording_refresh(warehouse, days, full=False):
        size = record_path_for(warehouse).stat().st_size
        monkeypatch.setattr(status, "replace_file_or_skip", lambda path, data: False)  # the disk is full
        raise UserError(disk_error)
    assert record_path_for(warehouse).stat().st_size == size  # no block more
    failed = json.loads(record_path_for(warehouse).read_text())
    assert failed["outcome"] == "failed" and failed["finished_at"] and failed["seconds"] is not None
    assert failed["error"].startswith(disk_error[:120]) and failed["error"].endswith("...")
    assert status._last_refresh(warehouse, running=False)["outcome"] == "failed"  # as `status` reads it

    # a short error fits whole; with no record to write over, nothing is written
    with pytest.raises(UserError), recording_refresh(warehouse, days, full=False):
        raise UserError("No space left on device")
    assert json.loads(record_path_for(warehouse).read_text())["error"] == "No space left on device"
    record_path_for(warehouse).unlink()
    with pytest.raises(UserError), recording_refresh(warehouse, days, full=False):
        raise UserError("No space left on device")
    assert not record_path_for(warehouse).exists()


RECORDS_STATUS_CANNOT_READ = {
    "a list": ("[1, 2]", "not a JSON object"),
    "no days": ('{"outcome": "running", "started_at": "2026-11-20T01:00:00+00:00"}', "it has no days"),
    "seconds as text": ('{"outcome": "failed", "started_at": "2026-11-20T01:00:00+00:00", "days": [], "seconds": "x"}',
                        "its seconds is a string"),
    "a day that is no date": ('{"outcome": "failed", "started_at": "2026-11-20T01:00:00+00:00", "days": ["x"]}',
                              "its days or start are not ISO dates"),
    "an outcome of its own": ('{"outcome": "done", "started_at": "2026-11-20T01:00:00+00:00", "days": []}',
                              "its outcome 'done' is not one of running, succeeded, failed, interrupted"),
    "not JSON": ("{not json", "not JSON"),
    "bytes": (b"\xff\xfe\x00", "not JSON"),
}


def _published_without_marts(warehouse: Path) -> Path:
    from orchestration.load.raw import ensure_raw_schema

    with duckdb.connect(str(warehouse)) as conn:
        ensure_raw_schema(conn)
    return warehouse


@pytest.mark.parametrize("case", RECORDS_STATUS_CANNOT_READ)
def test_status_says_when_the_refresh_record_cannot_be_read(tmp_path, case):
    """A record that is not what a refresh writes (edited by hand, damaged) or cannot be opened: the
    last refresh is `unknown` with the reason, in both formats; never a traceback, never "none
    recorded" when there is a record."""
    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    content, reason = RECORDS_STATUS_CANNOT_READ[case]
    record = record_path_for(warehouse)
    record.write_bytes(content if isinstance(content, bytes) else content.encode())
    status = collect_status(warehouse, tmp_path / "exports")
    assert status["last_refresh"]["outcome"] == "unknown"
    assert status["last_refresh"]["error"] == f"the refresh record {record} cannot be read ({reason})"
    assert f"last refresh   unknown: the refresh record {record} cannot be read ({reason})" \
        in format_status(status).splitlines()


def test_a_record_of_an_older_version_without_its_later_keys_is_read(tmp_path):
    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    record_path_for(warehouse).write_text(
        '{"outcome": "succeeded", "started_at": "2026-11-20T01:00:00+00:00", "days": ["2026-11-19"]}')
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert last == {"started_at": "2026-11-20T01:00:00+00:00", "finished_at": None, "days": ["2026-11-19"],
                    "full": None, "seconds": None, "outcome": "succeeded", "error": None, "pid": None,
                    "run_id": None}
    record_path_for(warehouse).unlink()
    record_path_for(warehouse).mkdir()  # a folder in its place
    assert collect_status(warehouse, tmp_path / "exports")["last_refresh"]["error"].endswith(
        "cannot be read (Is a directory)")


def test_the_record_of_a_version_before_its_rename_is_read_until_a_refresh_writes_todays(tmp_path):
    """Versions up to 2026-12-05 named the record by the warehouse's stem (`.wh.refresh.json`):
    after an upgrade `status` showed "none recorded", and a refresh killed before it was no longer
    shown as interrupted (an upgrade audit)."""
    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    old = tmp_path / ".wh.refresh.json"
    old.write_text('{"outcome": "running", "started_at": "2026-11-20T01:00:00+00:00", "days": ["2026-11-19"]}')
    assert not record_path_for(warehouse).exists()
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert (last["outcome"], last["days"]) == ("interrupted", ["2026-11-19"])  # killed: no refresh holds the lock
    with recording_refresh(warehouse, [dt.date(2026, 11, 21)], full=False):
        pass
    assert not old.exists()
    last = collect_status(warehouse, tmp_path / "exports")["last_refresh"]
    assert (last["outcome"], last["days"]) == ("succeeded", ["2026-11-21"])
    # a warehouse whose name has no suffix: both names are one, and the record stays
    bare = _published_without_marts(tmp_path / "bare")
    with recording_refresh(bare, [dt.date(2026, 11, 21)], full=False):
        pass
    assert collect_status(bare, tmp_path / "exports")["last_refresh"]["outcome"] == "succeeded"


def test_a_refresh_whose_process_is_gone_is_interrupted_though_another_holds_the_lock(tmp_path):
    """The record says running, and the warehouse's lock is held, but by another process (a run from
    Dagster's UI, which records nothing here): the recorded refresh's process is gone, so it was
    interrupted; the lock still says that a refresh is running now."""
    from orchestration.build.build_file import refresh_lock

    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    gone = subprocess.Popen(["true"])
    gone.wait()
    for pid, outcome in ((gone.pid, "interrupted"), (os.getpid(), "running")):
        record_path_for(warehouse).write_text(json.dumps(
            {"outcome": "running", "started_at": "2026-11-20T01:00:00+00:00", "days": [], "pid": pid}))
        with refresh_lock(warehouse, timeout=0):  # another open of the lock file: held, as by another process
            status = collect_status(warehouse, tmp_path / "exports")
        assert (status["last_refresh"]["outcome"], status["refresh_running"]) == (outcome, True), pid
    # a run from Dagster (its run id recorded, no process) takes the lock step by step: between its
    # steps nothing holds it, and it is still running (its run status sensors record its end)
    record_path_for(warehouse).write_text(json.dumps(
        {"outcome": "running", "started_at": "2026-11-20T01:00:00+00:00", "days": [], "pid": None, "run_id": "r1"}))
    status = collect_status(warehouse, tmp_path / "exports")
    assert (status["last_refresh"]["outcome"], status["refresh_running"]) == ("running", False)


def test_status_of_a_warehouse_name_too_long_for_a_refresh_says_none_ran(tmp_path):
    """A warehouse file name so long that the refresh record's name (`.NAME.refresh.json`) passes the
    file system's limit: no refresh can run on it (refused with one line), and status reads it."""
    from orchestration.settings import check_warehouse_name

    warehouse = _published_without_marts(tmp_path / f"{'w' * 243}.duckdb")
    assert collect_status(warehouse, tmp_path / "exports")["last_refresh"] is None
    with pytest.raises(UserError, match="^the warehouse file name '.*' is too long: a refresh keeps files beside it"):
        check_warehouse_name(warehouse)
    check_warehouse_name(tmp_path / f"{'w' * 227}.duckdb")  # its publish file's name is 255 bytes


def test_status_names_export_folders_it_cannot_read_and_shows_the_rest(tmp_path, monkeypatch):
    """A loaded day's folder that cannot be read (its permissions: as root the test stands in for
    that), or an exports folder that cannot be listed, is said where the pending work would be; the
    rest of the status is still shown (it stopped at the first such folder)."""
    import orchestration.load.exports as exports_module
    from orchestration.errors import LoadError

    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("insert into raw.export_days values ('2026-11-20', 'r1:x', 1, 1, now())")
    exports = tmp_path / "exports"
    (exports / "dt=2026-11-20").mkdir(parents=True)
    (exports / "dt=2026-11-21").mkdir(parents=True)  # not loaded: it was `new`, though a refresh of it fails

    def cannot_read(folder):
        raise LoadError(f"cannot read the export day folder {folder}: Permission denied")

    monkeypatch.setattr(exports_module, "export_files", cannot_read)
    status = collect_status(warehouse, exports)
    assert status["pending"]["export_days"] == [{"export_date": "2026-11-20", "reason": "unreadable"},
                                                {"export_date": "2026-11-21", "reason": "unreadable"}]
    assert status["export_days"]["count"] == 1 and status["last_refresh"] is None
    assert ("pending        their folder or files cannot be read now (a refresh of them fails): "
            "2026-11-20 .. 2026-11-21") in format_status(status).splitlines()

    def cannot_list(folder):
        raise LoadError(f"cannot read the exports folder {folder}: Permission denied")

    monkeypatch.setattr(exports_module, "scan_day_folders", cannot_list)
    status = collect_status(warehouse, exports)
    assert status["pending"]["exports_error"] == f"cannot read the exports folder {exports}: Permission denied"
    assert f"pending        unknown: cannot read the exports folder {exports}: Permission denied" \
        in format_status(status).splitlines()



@pytest.mark.parametrize("what", ["missing", "a file"])
def test_status_of_an_exports_folder_that_is_not_there_says_why_in_json_too(tmp_path, what):
    """No exports folder (or a file in its place): `pending unknown` with the reason, and the same
    reason as exports_error in JSON, which a script reads (docs/cli.md), not null with no day pending."""
    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    exports = tmp_path / "exports"
    if what == "a file":
        exports.write_text("not a folder\n")
    reason = (f"no exports folder {exports}" if what == "missing" else f"{exports} is not a folder") + \
        " (ANALYTICS_EXPORTS, or the exports folder given)"
    status = collect_status(warehouse, exports)
    assert status["pending"]["exports_found"] is False
    assert status["pending"]["exports_error"] == reason
    assert status["export_days"]["without_folder"] is None  # unknown: nothing was listed
    assert f"pending        unknown: {reason}" in format_status(status).splitlines()


def test_status_names_a_loaded_day_with_a_file_it_cannot_read(tmp_path):
    """A file of a loaded day that cannot be read now (its folder can): a refresh of that day fails,
    so status says `unreadable`, where it said the day was loaded as delivered (its fingerprint reads
    only names, sizes and times). Run as the user would, with file permissions applying (as root the
    DAC capabilities are dropped)."""
    from orchestration.load.exports import fingerprint

    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    exports = tmp_path / "exports"
    folder = write_export(exports, "2026-11-20", "part-0000.jsonl",
                          [event("e1", "user_message", "2026-11-20T09:00:00Z")]).parent
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("insert into raw.export_days values ('2026-11-20', ?, 1, 1, now())", [fingerprint(folder)])
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    (folder / "part-0000.jsonl").chmod(0o000)
    try:
        proc = subprocess.run([*prefix, CLI, "status", "--format", "json", "--warehouse", str(warehouse),
                               "--exports", str(exports)], capture_output=True, text=True,
                              env=environment_without_settings(), timeout=120)
    finally:
        (folder / "part-0000.jsonl").chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pending"]["export_days"] == [{"export_date": "2026-11-20", "reason": "unreadable"}]


@pytest.mark.parametrize("stdout, said", [
    ("> /dev/full", "cannot write the result to standard output: No space left on device"),
    (">&-", "standard output is closed: the result has nowhere to go"),
])
def test_a_result_that_cannot_be_written_is_one_line(tmp_path, stdout, said):
    """A full disk under `status > file` was a traceback (exit 1); a closed stdout lost the result
    without a word (exit 0)."""
    warehouse = _published_without_marts(tmp_path / "wh.duckdb")
    proc = subprocess.run(["bash", "-c", f'"$0" status --warehouse "$1" --exports "$2" {stdout}', CLI,
                           str(warehouse), str(tmp_path / "exports")],
                          capture_output=True, text=True, env=environment_without_settings(), timeout=120)
    assert (proc.returncode, proc.stderr.splitlines()) == (2, [f"assistant-analytics: error: {said}"])


def test_a_deleted_working_folder_is_one_line(tmp_path):
    """The shell's folder deleted under it: relative paths and the default warehouse start from it,
    and each use of it was a traceback (exit 1) or, in a refresh, dbt's bare "No such file"."""
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.run(["bash", "-c", 'cd "$1" && rmdir "$1" && exec "$0" status', CLI, str(gone)],
                          capture_output=True, text=True, env=environment_without_settings(), timeout=120)
    assert (proc.returncode, proc.stderr.splitlines()) == (2, [
        "assistant-analytics: error: the current folder no longer exists (deleted after the shell changed into "
        "it): change to a folder that exists"])


def test_a_path_with_a_line_break_stays_on_the_error_line(tmp_path, capsys):
    assert cli.main(["status", "--warehouse", str(tmp_path / "a\nb.duckdb")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("assistant-analytics: error: warehouse file not found: ") and "a\\nb.duckdb" in line


def test_run_history_that_cannot_be_written_is_one_line_naming_where():
    """A full disk under DAGSTER_HOME failed the run with SQLAlchemy's traceback from Dagster's
    storage; any other error goes on as it was."""
    import sqlite3
    import types

    from orchestration.cli.refresh import _run_history_written

    instance = types.SimpleNamespace(root_directory="/srv/dagster")
    with pytest.raises(UserError, match=r"^cannot write the refresh's run history in /srv/dagster: disk I/O error$"):
        with _run_history_written(instance):
            raise sqlite3.OperationalError("disk I/O error")
    with pytest.raises(ValueError):
        with _run_history_written(instance):
            raise ValueError("not the storage's")



def test_a_progress_line_stderr_cannot_take_is_lost_not_the_refresh(monkeypatch):
    """`refresh 2>log` with the log's disk full failed the run at its first progress line (exit 1)."""
    from orchestration.cli.refresh import write_progress

    class FullDisk:
        def write(self, text):
            raise OSError(28, "No space left on device")

        def flush(self):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stderr", FullDisk())
    write_progress("run 1/1: export days 2026-11-22 .. 2026-11-22 (1 day)")

def test_out_of_memory_reading_the_warehouse_is_not_called_a_damaged_file(tmp_path):
    from orchestration.serve.report import reading_warehouse

    with pytest.raises(UserError, match="^out of memory reading the warehouse .*: Out of Memory Error: x$"):
        with reading_warehouse(tmp_path / "wh.duckdb"):
            raise duckdb.OutOfMemoryException("Out of Memory Error: x")
    with pytest.raises(UserError, match="damaged file is written anew"):
        with reading_warehouse(tmp_path / "wh.duckdb"):
            raise duckdb.IOException("IO Error: Corrupt database file: block checksum mismatch")


def test_an_export_file_duckdb_cannot_write_is_named_not_the_warehouse(tmp_path):
    """DuckDB writes the export under a name of its own beside the one given (`tmp_<name>`): its
    failure (a file size limit, a full disk) was taken for the warehouse's and called damaged."""
    from orchestration.serve.exporting import _write_atomically

    class Relation:
        def write_csv(self, path, header):
            folder, name = os.path.split(path)
            raise duckdb.IOException(f'IO Error: Could not write file "{folder}/tmp_{name}": File too large')

    output = tmp_path / "out" / "big.csv"
    with pytest.raises(UserError, match=f"^cannot write {re.escape(str(output))}: IO Error: .*File too large"):
        _write_atomically(Relation(), output, "csv")
    assert list(output.parent.iterdir()) == []

def test_replace_file_or_skip_says_whether_it_replaced_the_file(tmp_path):
    from orchestration.files import replace_file_or_skip

    path = tmp_path / "f.json"
    assert replace_file_or_skip(path, b"new") and path.read_bytes() == b"new"
    assert not replace_file_or_skip(tmp_path / "missing" / "f.json", b"x")  # a folder that is not there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temporary left


def test_a_warehouse_folder_on_a_read_only_file_system_is_named_so(tmp_path, monkeypatch):
    import orchestration.cli.refresh as refresh

    read_only = os.statvfs(tmp_path)
    monkeypatch.setattr(refresh.os, "access", lambda path, mode: False)
    monkeypatch.setattr(refresh.os, "statvfs", lambda path: os.statvfs_result(
        (*read_only[:8], read_only.f_flag | os.ST_RDONLY, read_only.f_namemax)))
    with pytest.raises(UserError, match=f"^cannot write in the warehouse's folder {tmp_path}: read-only file system$"):
        refresh.check_warehouse_path(tmp_path / "wh.duckdb", tmp_path / "exports")
    monkeypatch.setattr(refresh.os, "statvfs", lambda path: read_only)
    with pytest.raises(UserError, match="permission denied$"):
        refresh.check_warehouse_path(tmp_path / "wh.duckdb", tmp_path / "exports")


def test_status_without_a_warehouse_names_the_refresh_that_failed_to_make_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ANALYTICS_WAREHOUSE", raising=False)
    warehouse = tmp_path / "wh.duckdb"
    monkeypatch.delenv("ANALYTICS_EXPORTS", raising=False)
    with pytest.raises(UserError, match=re.escape(f"warehouse file not found: {warehouse} (build it first: "
                                                  f"`assistant-analytics refresh --all --warehouse {warehouse} "
                                                  f"--exports {tmp_path}`)") + "$"):
        collect_status(warehouse, tmp_path)  # nothing ever ran
    with pytest.raises(RuntimeError), recording_refresh(warehouse, [dt.date(2026, 11, 20)], full=False):
        raise RuntimeError("the load failed: memory_limit 1MB is too small")
    with pytest.raises(UserError) as refused:
        collect_status(warehouse, tmp_path)
    started = json.loads(record_path_for(warehouse).read_text())["started_at"]
    assert str(refused.value) == (f"warehouse file not found: {warehouse}; its last refresh, started {started}, "
                                  "failed: the load failed: memory_limit 1MB is too small")



@pytest.mark.parametrize("events, newest", [
    ([], None),
    # the latest export days are empty or hold only a late copy: the newest event is an older day's
    ([("2026-11-20", "2026-11-20T10:00:00Z")], "2026-11-20T10:00:00Z"),
    ([("2026-11-24", "2026-11-24T10:00:00Z"), ("2026-11-26", "2026-11-23T10:00:00Z")], "2026-11-24T10:00:00Z"),
    # an event of the day after its export day, newer than every event of the next export day
    ([("2026-11-20", "2026-11-21T23:00:00Z"), ("2026-11-21", "2026-11-21T08:00:00Z")], "2026-11-21T23:00:00Z"),
    # the newest of the latest export day, older days' late events not newer
    ([("2026-11-10", "2026-11-03T10:00:00Z"), ("2026-11-21", "2026-11-21T08:00:00Z")], "2026-11-21T08:00:00Z"),
])
def test_status_finds_the_newest_event_whichever_export_day_holds_it(events, newest):
    from orchestration.load.raw import ensure_raw_schema
    from orchestration.serve.status import newest_event_ms

    conn = duckdb.connect()
    try:
        ensure_raw_schema(conn)
        for i, (export_date, occurred_at) in enumerate(events):
            conn.execute("insert into raw.events values (?, 'part-0000.jsonl', 1, ?, 'user_message', ?, "
                         "'acme-support', 'web', 'u1', 'c1', null, '{}')", [export_date, f"e{i}", occurred_at])
        found = newest_event_ms(conn)
    finally:
        conn.close()
    expected = newest and int(dt.datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp() * 1000)
    assert found == expected

# ----------------------------------------------------------------------------- output paths

def test_output_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    warehouse.write_bytes(b"not really a database")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    os.link(warehouse, tmp_path / "alias.duckdb")
    exports = tmp_path / "exports"
    (exports / "dt=2026-11-20").mkdir(parents=True)
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "null.csv").symlink_to(os.devnull)
    for output, says in [
        (tmp_path / "fifo.csv", "not a regular file"),
        (tmp_path / "null.csv", "not a regular file"),  # a link to a device: the device is not replaced
        (exports / "dt=2026-11-20" / "part-0000.jsonl", "into an export day folder"),
        (exports / "dt=2026-11-21" / "out.csv", "into an export day folder"),
        (tmp_path, "is a directory"),
        (a_file / "out.csv", "is a file, not a directory"),
        (a_file / "deeper" / "out.csv", "is a file, not a directory"),
        (warehouse, "over the warehouse"),
        (tmp_path / "sub" / ".." / "wh.duckdb", "over the warehouse"),
        (tmp_path / "alias.duckdb", "over the warehouse"),
        (tmp_path / ".wh.build.duckdb", "over the warehouse"),
    ]:
        with pytest.raises(UserError, match=re.escape(says)):
            check_output(output, warehouse, exports)
    assert (tmp_path / "fifo.csv").is_fifo() and Path(os.devnull).is_char_device()
    check_output(tmp_path / "new" / "out.csv", warehouse, exports)  # a folder to create is fine
    check_output(exports / "out.csv", warehouse, exports)  # beside the export days, not in one


def test_the_table_shows_a_text_of_the_data_on_one_line(ws):
    report = json.loads(ws.cli("report", "--assistant", ACME, "--from", D1, "--to", D4).stdout)
    report["clicks"]["rows"] = [{"click_type": "link", "title": "Two\nlines\tand \x1b[31mred",
                                 "destination_type": "url", "destination": "https://example.com", "clicks": 3}]
    report["agents"]["rows"] = [{"agent_id": "a", "name": "Billing\r\nagent", "kind": "agent", "views": 1,
                                 "positive": 0, "negative": 0}]
    report["users"]["by_device"] = [{"device_type": "desktop", "browser": "Odd\u2028browser", "users": 2},
                                    {"device_type": "mobile", "browser": "Prix\u202f: 10\u00a0\u20ac \U0001fae8",
                                     "users": 1}]
    report["assistant_id"], report["channel"] = "evil\nco", "web\rx"  # ids are the exports' text too
    table = format_table(report)
    assert table.splitlines()[0].startswith("Assistant evil\\nco (")
    assert table.splitlines()[0].endswith(", channel web\\rx")
    assert not [ch for line in table.splitlines() for ch in line if unicodedata.category(ch) in ("Cc", "Cf")]
    # the spaces of other scripts, and characters newer than Python's tables, stay as they are
    assert "mobile / Prix\u202f: 10\u00a0\u20ac \U0001fae8" in table
    assert "link: Two\\nlines\\tand \\x1b[31" in table and "Billing\\r\\nagent" in table
    assert "desktop / Odd\\u2028browser" in table


def test_an_export_named_gz_is_a_gzip_csv(ws, tmp_path):
    """`-o chats.csv.gz` (or a .gz name with --format csv) wrote plain CSV under the gzip name: the
    export writes a temporary name first, so DuckDB could not tell the compression from it."""
    import gzip

    plain, zipped = tmp_path / "chats.csv", tmp_path / "chats.csv.gz"
    ws.cli("export", "fct_chats_daily", "-o", str(plain))
    ws.cli("export", "fct_chats_daily", "-o", str(zipped))
    assert gzip.decompress(zipped.read_bytes()) == plain.read_bytes()
    assert plain.read_text().startswith("assistant_id,")
    error = one_line_error(ws.cli("export", "fct_chats_daily", "-o", str(tmp_path / "chats.gz"), "--format",
                                  "parquet", check=False))
    assert "Parquet is compressed inside" in error


def test_the_table_lines_up_titles_of_wide_characters(ws):
    """A click title or an agent's name in Japanese (the demo's have some) takes two terminal columns
    a character: the numbers after it stay in their column."""
    def columns(line: str) -> int:  # as a terminal shows it
        return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)

    report = json.loads(ws.cli("report", "--assistant", ACME, "--from", D1, "--to", D4).stdout)
    report["clicks"]["rows"] = [
        {"click_type": "quick_reply", "title": title, "destination_type": "url", "destination": "x", "clicks": 8}
        for title in ("Reset", "\u30d1\u30b9\u30ef\u30fc\u30c9\u30ea\u30bb\u30c3\u30c8",
                      "\u30d1\u30b9\u30ef\u30fc\u30c9\u30ea\u30bb\u30c3\u30c8\u306e\u65b9\u6cd5\u3092\u6559\u3048\u3066")]
    names = ("Billing", "\u8acb\u6c42\u30a8\u30fc\u30b8\u30a7\u30f3\u30c8")
    report["agents"]["rows"] = [{"agent_id": name, "name": name, "kind": "agent", "views": 1, "positive": 0,
                                 "negative": 0} for name in names]
    lines = format_table(report).splitlines()
    clicks = lines[lines.index("Clicks (top 5)") + 1:][:3]
    agents = lines[lines.index("Agents / workflows (views, +, -)") + 1:][:2]
    assert {columns(line) for line in clicks} == {2 + 34 + 14}
    assert len({columns(line) for line in agents}) == 1
    assert clicks[2].startswith("  quick_reply: \u30d1\u30b9")  # the long title cut to its columns


@pytest.mark.parametrize("mart, date_column", [("data_quality_daily", "export_date"), ("fct_chats", "chat_local_date"),
                                               ("fct_traffic", "local_date")])
def test_an_export_is_in_date_order_whatever_order_the_build_left_its_rows_in(ws, tmp_path, mart, date_column):
    """A build may leave a mart's rows in any order (a full rebuild of fct_agents does): the same
    data gives the same file, in date order."""
    shuffled = Workspace(tmp_path / "shuffled")
    copy_warehouse(ws.warehouse, shuffled.warehouse)
    conn = duckdb.connect(str(shuffled.warehouse))
    try:
        conn.execute(f"create or replace table marts.{mart} as select * from marts.{mart} order by {date_column} desc")
    finally:
        conn.close()
    as_built, as_shuffled = tmp_path / "a.csv", tmp_path / "b.csv"
    ws.cli("export", mart, "-o", str(as_built))
    shuffled.cli("export", mart, "-o", str(as_shuffled))
    dates = [row[date_column] for row in csv.DictReader(as_shuffled.open())]
    assert len(set(dates)) > 1 and dates == sorted(dates)
    assert as_shuffled.read_bytes() == as_built.read_bytes()


def test_an_exported_csv_writes_instants_in_utc_whatever_the_machines_time_zone(ws, tmp_path):
    written = {}
    for zone in ("Asia/Tokyo", "America/New_York"):
        out = tmp_path / f"chats-{zone.replace('/', '-')}.csv"
        ws.cli("export", "dim_chats", "-o", str(out), env={"TZ": zone})
        written[zone] = out.read_text()
    assert written["Asia/Tokyo"] == written["America/New_York"]
    rows = list(csv.DictReader(io.StringIO(written["Asia/Tokyo"])))
    assert rows and all(row["started_at"].endswith("+00") for row in rows)


def test_export_through_a_symbolic_link_writes_its_target_and_keeps_the_link(ws, tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    ws.cli("export", "dim_assistants", "-o", str(link))
    assert link.is_symlink() and target.read_text().startswith("assistant_id")


def test_export_to_dash_writes_to_standard_output_what_a_file_would_hold(ws, tmp_path):
    """`-o -` is standard output, as Unix tools read `-`: CSV unless --format parquet, which a pipe
    takes and a terminal does not; `-o ./-` is still a file named "-"."""
    ws.cli("export", "fct_chats", "-o", str(tmp_path / "chats.csv"))
    piped = ws.cli("export", "fct_chats", "-o", "-")
    assert piped.stdout == (tmp_path / "chats.csv").read_text() and piped.stdout.count("\n") > 2
    assert not (ws.root / "-").exists()
    cmd = [CLI, "export", "fct_chats", "--warehouse", str(ws.warehouse), "--exports", str(ws.exports), "-o", "-",
           "--format", "parquet"]
    parquet = subprocess.run(cmd, capture_output=True, env=environment_without_settings(), cwd=ws.root, check=True)
    (tmp_path / "chats.parquet").write_bytes(parquet.stdout)
    rows = duckdb.sql(f"select count(*) from '{tmp_path / 'chats.parquet'}'").fetchall()
    assert rows == [(piped.stdout.count("\n") - 1,)]
    terminal, _ = os.openpty()
    try:
        on_tty = subprocess.run(cmd, stdout=terminal, stderr=subprocess.PIPE, text=True,
                                env=environment_without_settings(), cwd=ws.root)
    finally:
        os.close(terminal)
    assert on_tty.returncode == 2 and on_tty.stderr == (
        "assistant-analytics: error: -o - --format parquet: Parquet is binary, not for a terminal: pipe it or give "
        "-o FILE.parquet\n")
    ws.cli("export", "fct_chats", "-o", "./-", "--format", "csv")
    assert (ws.root / "-").read_text() == piped.stdout


# The CLI's main in a process of its own, one part made slow on purpose: a DuckDB query that runs for
# a long while (too quick to hit with the small warehouses of these tests), into which the process
# sends itself a signal (argv[1]) after a second. On one DuckDB thread, which checks for signals
# between its tasks: with more, the thread that waits for the others may not look before the end.
SLOW_COMMAND = """
import os
import sys
import threading
import duckdb
import orchestration.cli.commands as commands
import orchestration.serve.exporting as exporting

QUERY = "select sum(hash(i)) from range(20000000000) t(i)"

def signal_soon():
    threading.Timer(1.0, os.kill, (os.getpid(), int(sys.argv[1]))).start()

def slow_query(*_args):
    signal_soon()
    duckdb.connect(config={"threads": 1}).execute(QUERY).fetchall()
    print("the query ran to its end", file=sys.stderr)

def slow_mart(conn, _args):
    signal_soon()
    conn.execute("set threads = 1")
    return conn.sql("select hash(i) as h from range(20000000000) t(i)")

if sys.argv[2] == "export":
    exporting._mart_relation = slow_mart
else:
    commands.run_command = slow_query
from orchestration.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def _signalled_in_a_query(args: list[str], sig: int, cwd: Path) -> tuple[int, list[str]]:
    proc = subprocess.run([sys.executable, "-c", SLOW_COMMAND, str(int(sig)), *args], capture_output=True, text=True,
                          env=environment_without_settings(), cwd=cwd, timeout=300)
    return proc.returncode, proc.stderr.splitlines()


@pytest.mark.parametrize("command, sig, code, says", [
    (["report", "--assistant", ACME, "--from", D1, "--to", D2], signal.SIGINT, 130, "interrupted"),
    (["status"], signal.SIGTERM, 143, "terminated"),
])
def test_a_signal_during_a_duckdb_query_is_one_line_not_a_traceback(tmp_path, command, sig, code, says):
    """DuckDB turns the KeyboardInterrupt of a Ctrl-C into RuntimeError("Query interrupted"); the
    command still ends as interrupted (130), and a read command as terminated on SIGTERM (143)."""
    returncode, stderr = _signalled_in_a_query([*command, "--warehouse", str(tmp_path / "w.duckdb")], sig, tmp_path)
    assert (returncode, stderr) == (code, [f"assistant-analytics: {says}"])


def test_an_export_ended_by_sigterm_leaves_no_temporary_file(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:  # a warehouse with marts: export reads it
        conn.execute("create schema marts; create table marts.fct_chats (chat_id varchar)")
    out = tmp_path / "out"
    returncode, stderr = _signalled_in_a_query(
        ["export", "fct_chats", "-o", str(out / "chats.csv"), "--warehouse", str(tmp_path / "w.duckdb")],
        signal.SIGTERM, tmp_path)
    assert (returncode, stderr) == (143, ["assistant-analytics: terminated"])
    assert list(out.iterdir()) == []  # neither its own temporary file nor DuckDB's `tmp_` one


def test_a_stderr_that_cannot_take_the_line_leaves_the_exit_status_as_it_is(tmp_path):
    """stderr on a full disk (`2> /dev/full`): the error line is lost, not the status a script reads."""
    with open("/dev/full", "w") as full:
        for args in (["report", "--from", "x"],  # the parser's error
                     ["status", "--warehouse", str(tmp_path / "none.duckdb")]):  # a UserError
            proc = subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=full, env=environment_without_settings(),
                                  cwd=tmp_path, timeout=120)
            assert proc.returncode == 2, args


def test_help_and_version_that_stdout_cannot_take_are_one_line(tmp_path):
    """--version and --help are results on stdout, as a report is: a full disk under `>` or a closed
    stdout is one line and exit 2, not silence and exit 0 (nor the help on stderr)."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([CLI, "--version"], stdout=full, stderr=subprocess.PIPE, text=True,
                              env=environment_without_settings(), cwd=tmp_path, timeout=120)
    assert (proc.returncode, proc.stderr) == (
        2, "assistant-analytics: error: cannot write the result to standard output: No space left on device\n")
    proc = subprocess.run(["bash", "-c", '"$0" --help >&-', CLI], capture_output=True, text=True,
                          env=environment_without_settings(), cwd=tmp_path, timeout=120)
    assert (proc.returncode, proc.stderr) == (
        2, "assistant-analytics: error: standard output is closed: the result has nowhere to go\n")


def test_an_export_name_near_the_limit_is_written_and_a_private_file_stays_private(tmp_path):
    from orchestration.serve.exporting import _write_atomically

    longest = tmp_path / f"{'a' * 251}.csv"  # 255 bytes: no room for the name with anything added
    _write_atomically(duckdb.sql("select 1 as a"), longest, "csv")
    assert longest.read_text() == "a\n1\n"
    private = tmp_path / "private.csv"
    private.write_text("old")
    private.chmod(0o600)
    _write_atomically(duckdb.sql("select 2 as b"), private, "csv")
    assert private.read_text() == "b\n2\n" and private.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([longest.name, private.name])


def test_an_export_to_a_full_disk_says_so_in_the_systems_words(tmp_path, monkeypatch):
    """DuckDB's IO error on a full disk, as it reads (its errno inside a JSON object), is the line's
    reason as the system words it; the old file is kept and nothing temporary is left."""
    from orchestration.serve.exporting import _write_atomically

    def disk_full(relation, path, **_options):
        Path(path).write_text("a part")
        raise duckdb.IOException(
            f'IO Error: Async write failed for range [offset=0, size=119]: {{"exception_type":"IO","exception_message":'
            f'"Could not write file \\"{path}\\"","errno":"28"}}')

    monkeypatch.setattr(duckdb.DuckDBPyRelation, "write_csv", disk_full)
    out = tmp_path / "chats.csv"
    out.write_text("old")
    with pytest.raises(UserError, match=f"^cannot write {re.escape(str(out))}: No space left on device$"):
        _write_atomically(duckdb.sql("select 1 as a"), out, "csv")
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["chats.csv"]


@pytest.mark.parametrize("option", ["--warehouse", "--exports", "--output"])
def test_a_path_that_is_not_utf8_is_one_line(tmp_path, capsys, option):
    """DuckDB opens UTF-8 paths only (a name's other bytes failed with `std::bad_cast`)."""
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xffdir/w.duckdb")
    args = {"--warehouse": ["status", "--warehouse", bad], "--exports": ["status", "--exports", bad],
            "--output": ["export", "fct_chats", "-o", bad]}[option]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == (f"assistant-analytics: error: {option} {tmp_path}/bad\\xffdir/w.duckdb: the "
                                       "path is not UTF-8 text, and DuckDB opens UTF-8 paths only (rename it, or use "
                                       "a UTF-8 locale)\n")


def test_a_result_the_output_encoding_lacks_is_escaped_not_a_traceback(tmp_path):
    """A click title in Japanese under `PYTHONIOENCODING=ascii` (or a non-UTF-8 locale)."""
    script = ("import sys\nimport orchestration.cli.commands as c\n"
              "c.run_command = lambda args: c.write_result('\u30d1\u30b9\u30ef\u30fc\u30c9') or 0\n"
              "from orchestration.cli.main import main\nraise SystemExit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", script, "status", "--warehouse", str(tmp_path / "w.duckdb")],
                          capture_output=True, text=True, env={**environment_without_settings(),
                                                               "PYTHONIOENCODING": "ascii"}, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "\\u30d1\\u30b9\\u30ef\\u30fc\\u30c9\n", "")


@pytest.mark.parametrize("option", ["--warehouse", "--exports", "--output"])
@pytest.mark.parametrize("path", ["too-long", "loop"])
def test_a_path_the_system_cannot_look_up_is_one_line(ws, tmp_path, option, path):
    given = {"too-long": tmp_path / ("x" * 300) / "w.duckdb", "loop": tmp_path / "loop"}[path]
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    args = {"--warehouse": str(ws.warehouse), "--exports": str(ws.exports), "--output": str(tmp_path / "x.csv")}
    args[option] = str(given)
    proc = subprocess.run([CLI, "export", "dim_assistants", "--format", "csv",
                           *(x for item in args.items() for x in item)], capture_output=True, text=True, timeout=120)
    error = one_line_error(proc)
    assert f"{option} {given}" in error and ("too long" in error or "symbolic links" in error), error


@pytest.mark.parametrize("variable", ["ANALYTICS_WAREHOUSE", "ANALYTICS_EXPORTS"])
@pytest.mark.parametrize("path", ["too-long", "loop"])
def test_such_a_path_in_a_variable_is_one_line_naming_the_variable(tmp_path, variable, path):
    """Not a traceback (a loop was Python's RuntimeError, exit 1), nor `--warehouse` named when none was given."""
    given = {"too-long": tmp_path / ("x" * 300) / "w.duckdb", "loop": tmp_path / "loop"}[path]
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    env = environment_without_settings()
    proc = subprocess.run([CLI, "status"], env={**env, variable: str(given)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    error = one_line_error(proc)
    assert f"{variable} {given}" in error and ("too long" in error or "symbolic links" in error), error


@pytest.mark.parametrize("given_as", ["--warehouse", "ANALYTICS_WAREHOUSE"])
def test_a_warehouse_path_with_a_backslash_is_one_line(tmp_path, given_as):
    """DuckDB reads a backslash as a folder separator: a refresh failed after its load, naming another file."""
    warehouse = tmp_path / "w\\x.duckdb"
    env = environment_without_settings()
    args, extra = (["--warehouse", str(warehouse)], {}) if given_as == "--warehouse" else \
        ([], {"ANALYTICS_WAREHOUSE": str(warehouse)})
    proc = subprocess.run([CLI, "refresh", "--all", "--exports", str(tmp_path), *args], env={**env, **extra},
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert one_line_error(proc) == (f"assistant-analytics: error: {given_as} {warehouse}: a path with a backslash "
                                    "(\\) cannot be a DuckDB file's: DuckDB reads it as a folder separator")


@pytest.mark.parametrize("output, fmt, says", [
    ("chats.csv", "parquet",
     "--format parquet contradicts --output 'chats.csv' (a .csv name): give one or make them agree"),
    ("chats.PARQUET", "csv",
     "--format csv contradicts --output 'chats.PARQUET' (a .parquet name): give one or make them agree"),
    ("chats.txt", None, "cannot tell the format from 'chats.txt': give --format csv|parquet"),
])
def test_an_export_format_that_contradicts_the_file_name_is_refused(output, fmt, says):
    from orchestration.serve.exporting import _format

    args = cli.parse_args(["export", "fct_chats", "-o", output, *(["--format", fmt] if fmt else [])])
    with pytest.raises(UserError, match=f"^{re.escape(says)}$"):
        _format(args)


@pytest.mark.parametrize("output, fmt, written", [
    ("chats.csv", None, "csv"), ("chats.Parquet", None, "parquet"), ("chats.csv", "csv", "csv"),
    ("chats.txt", "parquet", "parquet"), ("chats", "csv", "csv"),
])
def test_the_export_format_comes_from_the_name_or_an_agreeing_format(output, fmt, written):
    from orchestration.serve.exporting import _format

    args = cli.parse_args(["export", "fct_chats", "-o", output, *(["--format", fmt] if fmt else [])])
    assert _format(args) == written


# ----------------------------------------------------------------------------- one warehouse

def _chat(prefix: str, day: str, hour: str, *, user: str, channel: str = "web") -> list[dict]:
    conv = f"conv-{prefix}"
    return [
        event(f"{prefix}-1", "user_message", f"{day}T{hour}:00Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-1", text="hello", input="text"),
        event(f"{prefix}-2", "bot_message", f"{day}T{hour}:05Z", user=user, channel=channel, conversation=conv,
              message_id=f"m-{prefix}-2", reviewable=True, is_fallback=False),
    ]


@pytest.fixture(scope="module")
@slow_fixture
def ws(module_workspace: Workspace) -> Workspace:
    ws = module_workspace
    write_export(ws.exports, D1, "part-0000.jsonl",
                 _chat("a", D1, "09:00", user="u-a") + _chat("b", D1, "10:00", user="u-b", channel="whatsapp")
                 + ["{not json"])
    write_export(ws.exports, D2, "part-0000.jsonl", _chat("c", D2, "09:00", user="u-a"))
    write_export(ws.exports, D4, "part-0000.jsonl",
                 _chat("d", D4, "09:00", user="u-d")
                 + [event("d-3", "user_message", NEWEST_EVENT, user="u-d", conversation="conv-d2",
                          message_id="m-d-3", text="late", input="text")])
    # as a shell or a compose file sets a variable to nothing: each setting's default (README), dbt's too
    ws.cli("refresh", "--all", timeout=900, env={name: "" for name in SETTINGS_SET_TO_NOTHING})
    return ws


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("channel, hint", [("sms", None), ("Web", "did you mean 'web'? names are case-sensitive"),
                                           ("WHATSAPP", "did you mean 'whatsapp'"),
                                           ("web ", "did you mean 'web'? spaces count)")])
def test_an_unknown_or_miscased_channel_is_refused_by_report_and_export_alike(ws, tmp_path, channel, hint):
    period = ["--assistant", ACME, "--from", D1, "--to", D4, "--channel", channel]
    report_error = one_line_error(ws.cli("report", *period, check=False))
    out = tmp_path / "traffic.csv"
    export_error = one_line_error(ws.cli("export", "fct_traffic", "-o", str(out), *period, check=False))
    assert not out.exists()  # no header-only file
    report_export_error = one_line_error(ws.cli("export", "report", "-o", str(out), *period, check=False))
    assert report_error == export_error == report_export_error
    assert f"unknown channel '{channel}'" in report_error
    # It names the channels the assistant has data in (and those of seeds/channels.csv).
    assert re.search(r"channels of acme-support: .*\bweb\b", report_error) and "whatsapp" in report_error
    if hint:
        assert hint in report_error


@pytest.mark.parametrize("filters, says", [
    (["--assistant", "acme-suport", "--from", D1, "--to", D2], "unknown assistant 'acme-suport'"),
    (["--assistant", ACME, "--from", D2, "--to", D1], f"--from {D2} is after --to {D1}"),
], ids=["unknown-assistant", "from-after-to"])
def test_export_checks_its_filters_as_report_does(ws, tmp_path, filters, says):
    report_error = one_line_error(ws.cli("report", *filters, check=False))
    out = tmp_path / "chats.csv"
    export_error = one_line_error(ws.cli("export", "fct_chats", "-o", str(out), *filters, check=False))
    assert report_error == export_error and says in report_error
    assert not out.exists()


@pytest.mark.parametrize("date_from, date_to", [("0001-01-01", "0001-01-01"), ("1000-01-01", "9999-12-31")])
def test_a_period_without_a_previous_period_is_one_line(ws, tmp_path, date_from, date_to):
    """The report's previous period (kpis.md) of a period that starts too near year 1 would begin
    before the calendar does: report and its export say so in one line (it was a traceback)."""
    period = ["--assistant", ACME, "--from", date_from, "--to", date_to]
    report_error = one_line_error(ws.cli("report", *period, check=False))
    out = tmp_path / "report.csv"
    assert one_line_error(ws.cli("export", "report", "-o", str(out), *period, check=False)) == report_error
    assert f"the period {date_from} .. {date_to} has no previous period" in report_error
    assert not out.exists()
    # a mart export has no previous period: the same dates filter it
    assert ws.cli("export", "fct_chats", "-o", str(tmp_path / "chats.csv"), *period).returncode == 0


def test_a_filter_the_mart_cannot_apply_is_an_error_not_ignored(ws, tmp_path):
    out = tmp_path / "dq.csv"
    error = one_line_error(ws.cli("export", "data_quality_daily", "-o", str(out), "--channel", "web", check=False))
    assert "--channel cannot filter data_quality_daily" in error
    assert not out.exists()
    # a mart with a date of another meaning (a user's first chat) names the dates the filter uses
    error = one_line_error(ws.cli("export", "dim_users", "-o", str(out), "--from", "2026-11-20", check=False))
    assert "--from cannot filter dim_users: it has none of chat_local_date, local_date, export_date" in error
    assert not out.exists()


def test_contradictory_refresh_options_exit_2_without_loading(ws):
    before = _digest(ws.warehouse)
    error = one_line_error(ws.cli("refresh", "--day", D1, "--all", check=False))
    assert "--day and --all" in error
    assert _digest(ws.warehouse) == before


def _notes(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("assistant-analytics: note: ")]


def test_a_period_without_data_or_past_the_newest_day_says_so_in_one_line(ws, tmp_path):
    previous_too_early = f"begins before the first loaded export day ({D1})"
    cases = {
        # after the newest loaded export day (2026-11-23)
        ("2026-12-01", "2026-12-07"): "starts after the newest loaded export day (2026-11-23)",
        # inside the loaded range, no chat of the assistant on these days
        ("2026-11-22", "2026-11-22"): "no data for assistant acme-support",
        # reaches past the newest day: its last days are empty or incomplete; and its previous period
        # (2026-11-19 .. 2026-11-22) begins before the first export day (report's note alone)
        (D4, "2026-11-26"): "reaches past the newest loaded export day (2026-11-23)",
        # its previous period (2026-11-16 .. 2026-11-19) holds no loaded day
        (D1, D4): "the previous period 2026-11-16 .. 2026-11-19 " + previous_too_early,
    }
    for (date_from, date_to), says in cases.items():
        period = ["--assistant", ACME, "--from", date_from, "--to", date_to]
        report = ws.cli("report", *period)
        assert json.loads(report.stdout)["assistant_id"] == ACME  # stdout stays the report
        out = tmp_path / f"chats-{date_from}.csv"
        export = ws.cli("export", "fct_chats", "-o", str(out), *period)
        assert out.exists()
        notes = _notes(report)
        assert says in notes[0] and len(notes) == 1 + (date_from == D4 and previous_too_early not in says), \
            (date_from, report.stderr)
        if len(notes) == 2:
            assert previous_too_early in notes[1], report.stderr
        if previous_too_early not in says:
            assert len(_notes(export)) == 1 and says in _notes(export)[0], (date_from, export.stderr)
    # the report's file holds the previous period's rows too: the same note as `report`
    tidy = ws.cli("export", "report", "-o", str(tmp_path / "report.csv"), "--assistant", ACME, "--from", D1, "--to", D4)
    assert _notes(tidy) == [n for n in _notes(ws.cli("report", "--assistant", ACME, "--from", D1, "--to", D4))]
    assert len(_notes(tidy)) == 1 and previous_too_early in _notes(tidy)[0]
    # A period with data, inside the loaded days, its previous period too: nothing to say.
    quiet = ws.cli("report", "--assistant", ACME, "--from", D4, "--to", D4)
    assert _notes(quiet) == [], quiet.stderr


@pytest.mark.parametrize("where", ["directory", "under-a-file", "warehouse", "refresh-lock", "refresh-record",
                                   "unwritable"])
def test_export_to_a_path_that_cannot_be_written_is_one_line(ws, tmp_path, where):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    output = {"directory": tmp_path, "under-a-file": a_file / "out.csv", "warehouse": ws.warehouse,
              "refresh-lock": ws.warehouse.with_name(ws.warehouse.name + ".lock"),
              "refresh-record": record_path_for(ws.warehouse),
              "unwritable": Path("/sys/assistant-analytics-export.csv")}[where]
    kept = output.read_bytes() if where.startswith("refresh-") else None  # the refresh left them there
    if where == "unwritable":
        # Tests run as root, whom mode bits do not stop; sysfs refuses new files to root too.
        try:
            output.touch()
        except OSError:
            pass
        else:
            output.unlink()
            pytest.skip("this system lets the test write a file in /sys")
    before = _digest(ws.warehouse)
    proc = ws.cli("export", "fct_chats", "-o", str(output), "--format", "csv", check=False)
    error = one_line_error(proc)
    assert str(output.name) in error or str(output) in error
    assert _digest(ws.warehouse) == before
    assert a_file.read_text() == "x"
    if kept is not None:
        assert output.read_bytes() == kept


@pytest.mark.parametrize("typed, suggestion", [("fct_chat", "fct_chats"), ("reprot", "report"),
                                               ("dim_user", "dim_users"), ("FCT_CHATS", "fct_chats")])
def test_a_mistyped_mart_is_one_line_with_a_suggestion(ws, tmp_path, typed, suggestion):
    error = one_line_error(ws.cli("export", typed, "-o", str(tmp_path / "x.csv"), check=False))
    assert f"unknown mart '{typed}' (did you mean '{suggestion}'?)" in error and "fct_chats" in error


@pytest.mark.parametrize("typed, hint", [
    ("stg_events", None),  # shares letters with fct_agents: no suggestion
    ("stg_platform__events", "'stg_platform__events' is in staging, not in marts: export writes marts"),
    ("intermediate.int_events_sessionized",
     "'int_events_sessionized' is in intermediate, not in marts: export writes marts"),
])
def test_a_table_of_another_layer_is_named_as_such_and_a_far_name_gets_no_suggestion(ws, tmp_path, typed, hint):
    error = one_line_error(ws.cli("export", typed, "-o", str(tmp_path / "x.csv"), check=False))
    assert error.startswith(f"assistant-analytics: error: unknown mart '{typed}'") and "did you mean" not in error
    assert (hint in error) if hint else "(" not in error.split(";")[0]
    assert not (tmp_path / "x.csv").exists()


def test_a_warehouse_without_marts_or_that_is_a_directory_is_one_line(workspace, tmp_path):
    duckdb.connect(str(workspace.warehouse)).close()  # a DuckDB file, empty
    build = (f"(build it: `assistant-analytics refresh --all --warehouse {workspace.warehouse} "
             f"--exports {workspace.exports}`)")
    for command in (["export", "fct_chats", "-o", str(tmp_path / "x.csv")],
                    ["report", "--assistant", ACME, "--from", D1, "--to", D2]):
        error = one_line_error(workspace.cli(*command, check=False))
        assert error == f"assistant-analytics: error: the warehouse {workspace.warehouse} has no marts yet {build}"
    for command in (["status"], ["report", "--assistant", ACME, "--from", D1, "--to", D2]):
        proc = subprocess.run([CLI, *command[:1], "--warehouse", str(tmp_path), *command[1:]],
                              capture_output=True, text=True, timeout=120)
        assert f"the warehouse {tmp_path} is a directory" in one_line_error(proc)


def test_a_mart_of_an_older_version_is_not_exported_as_it_is_but_named_with_the_rebuild(ws, tmp_path, capsys):
    """A warehouse an older version built: a mart it lacks (new since) is not an `unknown mart`
    with a wrong suggestion, nor a mart missing columns a file with the old ones; both are the
    report's one line, whose command rebuilds it (here, a copy of a current warehouse made old)."""
    old = tmp_path / "old.duckdb"
    shutil.copyfile(ws.warehouse, old)
    with duckdb.connect(str(old)) as conn:
        conn.execute("drop table marts.fct_outcomes; alter table marts.fct_users drop column is_first_row_of_day")
    exports = tmp_path / "exports"
    rebuild = f"; run `assistant-analytics refresh --full --warehouse {old} --exports {exports}` once"
    for mart, lacks in (("fct_outcomes", "no mart fct_outcomes"),
                        ("fct_users", "marts.fct_users has no is_first_row_of_day")):
        out = tmp_path / f"{mart}.csv"
        assert cli.main(["export", mart, "-o", str(out), "--warehouse", str(old), "--exports", str(exports)]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"assistant-analytics: error: the warehouse {old} lacks what this version reads ({lacks}){rebuild}"]
        assert not out.exists()
    # the marts of the current version export as they are: each has every column its YAML documents
    from orchestration.serve.exporting import marts_of_this_version

    with duckdb.connect(str(ws.warehouse), read_only=True) as conn:
        built = {mart: [c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
            "order by ordinal_position", [mart]).fetchall()] for mart in marts_of_this_version()}
    assert built == marts_of_this_version()


def test_report_export_is_tidy_with_numbers_typed_as_numbers(ws, tmp_path):
    period = ["--assistant", ACME, "--from", D1, "--to", D4]
    report = json.loads(ws.cli("report", *period).stdout)
    out = tmp_path / "report.parquet"
    ws.cli("export", "report", "-o", str(out), *period)
    conn = duckdb.connect()
    types = dict(conn.execute("select column_name, column_type from (describe select * from read_parquet(?))",
                              [str(out)]).fetchall())
    assert types["value"] == "DOUBLE"
    assert types["weekday"] == types["hour"] == "BIGINT"
    assert {"module", "metric", "device_type", "browser", "click_type", "agent_id"} <= set(types)

    def value(module, metric, period="current", **keys):
        where = " and ".join(f'"{k}" = ?' for k in keys)
        rows = conn.execute(f"select value from read_parquet(?) where period = ? and module = ? and metric = ?"
                            f"{' and ' + where if where else ''}",
                            [str(out), period, module, metric, *keys.values()]).fetchall()
        assert len(rows) == 1, (module, metric, keys, rows)
        return rows[0][0]

    # Values read back by their keys equal the report's.
    assert value("users", "total") == report["users"]["total"] == 3
    assert value("chats", "total") == report["chats"]["total"] == 5
    assert value("handover", "by_trigger.direct") == report["handover"]["by_trigger"]["direct"]
    assert value("csat", "distribution.5") == report["csat"]["distribution"]["5"]
    for cell in report["traffic"]["cells"]:
        if cell["messages"]:
            assert value("traffic", "cells.messages", weekday=cell["weekday"], hour=cell["hour"]) == cell["messages"]
    for d in report["users"]["by_device"]:
        assert value("users", "by_device.users", device_type=d["device_type"]) == d["users"]
    # The previous period's modules, labelled as such.
    assert value("users", "total", period="previous") == report["previous"]["users"]["total"]
    assert value("chats", "total", period="previous") == report["previous"]["chats"]["total"]
    n_traffic = conn.execute("select count(*) from read_parquet(?) where module = 'traffic' and period = 'current'",
                             [str(out)]).fetchone()[0]
    assert n_traffic == 168
    # A ratio without a denominator is a NULL value, not a string.
    assert conn.execute("select count(*) from read_parquet(?) where module = 'csat' and metric = 'score' "
                        "and period = 'current' and value is null",
                        [str(out)]).fetchone()[0] == (report["csat"]["score"] is None)

    csv_out = tmp_path / "report.csv"
    ws.cli("export", "report", "-o", str(csv_out), *period)
    csv_types = dict(conn.execute("select column_name, column_type from (describe select * from read_csv(?))",
                                  [str(csv_out)]).fetchall())
    assert csv_types["value"] == "DOUBLE"  # a spreadsheet reads numbers, not quoted JSON


def test_status_says_what_the_warehouse_holds_and_how_the_refresh_went(ws, tmp_path, monkeypatch):
    proc = ws.cli("status", "--format", "json")
    status = json.loads(proc.stdout)
    assert status["export_days"] == {"first": D1, "last": D4, "count": 3, "missing": ["2026-11-22"],
                                     "without_folder": []}
    last = status["last_refresh"]
    assert last["outcome"] == "succeeded" and last["days"] == [D1, D2, D4] and last["error"] is None
    assert last["seconds"] > 0 and status["refresh_running"] is False
    assert status["warehouse"]["size_bytes"] == ws.warehouse.stat().st_size
    assert status["pending"]["export_days"] == [] and status["pending"]["changing"] == []
    assert status["pending"]["rebuild_all"] is False
    rejected = {d["export_date"]: (d["lines_read"], d["lines_rejected"])
                for d in status["rejected_lines"]["export_days"]}
    assert rejected == {D1: (5, 1), D2: (2, 0), D4: (3, 0)}
    newest = dt.datetime.fromisoformat(status["newest_event"]["occurred_at"])
    assert newest == dt.datetime.fromisoformat(NEWEST_EVENT.replace("Z", "+00:00"))
    expected_age = time.time() - newest.timestamp()
    assert abs(status["newest_event"]["age_seconds"] - expected_age) < 120

    table = ws.cli("status").stdout
    assert "2026-11-22" in table and "succeeded" in table, table
    assert "pending        nothing: every export day folder is loaded as delivered" in table, table
    # an exports folder without any day folder: nothing pending, and not "every folder loaded"
    (tmp_path / "no_days").mkdir()
    table = format_status(collect_status(ws.warehouse, tmp_path / "no_days"))
    assert f"pending        nothing: no export day folder (dt=YYYY-MM-DD) in {tmp_path / 'no_days'}" in table, table

    # A day delivered since, and a day re-delivered (its files changed): pending, as the sensor sees
    # them; and a folder dated before the export days, which a refresh would refuse: named as such.
    write_export(ws.exports, "2026-11-24", "part-0000.jsonl", _chat("e", "2026-11-24", "09:00", user="u-e"))
    write_export(ws.exports, D2, "part-0001.jsonl", _chat("f", D2, "11:00", user="u-f"))
    write_export(ws.exports, "2023-12-31", "part-0000.jsonl", _chat("g", "2023-12-31", "09:00", user="u-g"))
    (ws.exports / "dt=2026-11-31").mkdir()  # no such date: not read, but named
    (ws.exports / "dt=2026-11-25").symlink_to(ws.exports / f"dt={D2}")  # a link: not read, but named
    try:
        pending = json.loads(ws.cli("status", "--format", "json").stdout)["pending"]
        assert pending["export_days"] == [{"export_date": "2023-12-31", "reason": "outside"},
                                          {"export_date": D2, "reason": "redelivered"},
                                          {"export_date": "2026-11-24", "reason": "new"}]
        assert pending["misnamed_folders"] == ["dt=2026-11-31"]
        assert pending["linked_folders"] == ["dt=2026-11-25"]
        # both written just now: maybe still being delivered, which the sensor waits out
        assert (pending["changing"], pending["settle_seconds"]) == ([D2, "2026-11-24"], 60.0)
        table = ws.cli("status").stdout
        assert (f"               still changing: {D2}, 2026-11-24 (changed in the last 60 s: a delivery under "
                "way? The sensor waits until the files are still)") in table.splitlines(), table
        assert "day folders that are symbolic links (not read; copy the folder in): dt=2026-11-25" in table, table
        shown = "outside the export days (misdated: refresh --all and the sensor pass them by): 2023-12-31"
        assert shown in table, table
        assert ("named like an export day but not a dt=YYYY-MM-DD folder with a real date (not read): dt=2026-11-31"
                in table), table
        # still for an hour: no longer changing; a file dated ahead of the clock beside one written
        # now hides nothing; the sensor's setting given badly leaves status without the hint only
        folders = [ws.exports / f"dt={day}" for day in (D2, "2026-11-24")]
        paths = [*folders, *(p for folder in folders for p in folder.iterdir())]
        times = {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in paths}  # D2's loaded file's fingerprint
        try:
            an_hour_ago = time.time() - 3600
            for path in paths:
                os.utime(path, (an_hour_ago, an_hour_ago))
            status = collect_status(ws.warehouse, ws.exports)
            assert status["pending"]["changing"] == [] and len(status["pending"]["export_days"]) == 3
            assert "still changing" not in format_status(status)
            an_hour_ahead = time.time() + 3600
            os.utime(ws.exports / f"dt={D2}" / "part-0000.jsonl", (an_hour_ahead, an_hour_ahead))
            assert collect_status(ws.warehouse, ws.exports)["pending"]["changing"] == []
            os.utime(ws.exports / f"dt={D2}" / "part-0001.jsonl")  # now
            assert collect_status(ws.warehouse, ws.exports)["pending"]["changing"] == [D2]
            monkeypatch.setenv("ANALYTICS_SENSOR_SETTLE_SECONDS", "1m")
            status = collect_status(ws.warehouse, ws.exports)
            assert (status["pending"]["changing"], status["pending"]["settle_seconds"]) == ([], None)
            assert len(status["pending"]["export_days"]) == 3
        finally:
            for path, (atime, mtime) in times.items():
                os.utime(path, ns=(atime, mtime))
    finally:
        (ws.exports / "dt=2026-11-25").unlink()
        (ws.exports / "dt=2026-11-31").rmdir()
        (ws.exports / f"dt={D2}" / "part-0001.jsonl").unlink()
        for day in ("2026-11-24", "2023-12-31"):
            for p in (ws.exports / f"dt={day}").iterdir():
                p.unlink()
            (ws.exports / f"dt={day}").rmdir()


def test_status_shows_control_characters_in_names_escaped(ws, tmp_path):
    """A folder's or path's name may hold a line break or a terminal's escape sequence: the table
    shows them escaped (`\\n`, `\\x1b`), as the report's table does, so each line stays one line
    and the terminal acts on none of them; the JSON has them as they are."""
    exports = tmp_path / "exports"
    (exports / "dt=2026-11-29\n").mkdir(parents=True)
    (exports / "dt=2026-11-2\x1b[2J").mkdir()
    (exports / "dt=2026-11-30 ").mkdir()  # a space that would be hidden: quoted in the table
    status = collect_status(ws.warehouse, exports)
    assert status["pending"]["misnamed_folders"] == ["dt=2026-11-2\x1b[2J", "dt=2026-11-29\n", "dt=2026-11-30 "]
    table = format_status(status)
    assert "\x1b" not in table and 'dt=2026-11-2\\x1b[2J, "dt=2026-11-29\\n", "dt=2026-11-30 "' in table, table
    labels = {"warehouse", "export days", "last refresh", "pending", "rejected lines", "newest event", ""}
    assert all(line[:15].strip() in labels for line in table.splitlines()), table  # no line broken in two


def alter(file: Path, sql: str) -> None:
    conn = duckdb.connect(str(file))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def test_status_says_when_the_next_refresh_rebuilds_every_model(ws, tmp_path):
    """After an upgrade that raised the models' revision or an edited seed (the fingerprint the
    refresh compares), or on a file built before that record, the next refresh rebuilds every
    model: `status` says so among the pending work, as the refresh's progress then does, and no
    more once it has."""
    from orchestration.build.refresh_state import built_with_other_seeds, seeds_fingerprint
    from orchestration.settings import build_path_for

    reseeded = "seeds, the user-agent parser or the models' revision changed since the last build"
    copy = Workspace(tmp_path)
    shutil.copytree(ws.exports, copy.exports)
    copy_warehouse(ws.warehouse, copy.warehouse)
    for file in (copy.warehouse, build_path_for(copy.warehouse)):  # the build file and its published copy
        alter(file, "update raw.built_with_seeds set fingerprint = 'of an older version'")
    assert json.loads(copy.cli("status", "--format", "json").stdout)["pending"]["rebuild_all"] is True
    [line] = [line for line in copy.cli("status").stdout.splitlines() if line.startswith("pending ")]
    assert line == (f"pending        every model, which the next refresh rebuilds: the {reseeded} "
                    "(an upgrade, an edited seed)"), line
    unrecorded = copy_warehouse(copy.warehouse, tmp_path / "unrecorded" / "w.duckdb")
    alter(unrecorded, "drop table raw.built_with_seeds")
    with duckdb.connect(str(unrecorded), read_only=True) as conn:
        assert built_with_other_seeds(conn, seeds_fingerprint()) is True
    # the refresh does what status said
    proc = copy.cli("refresh", "--day", D4)
    assert f"{reseeded}: rebuilding every model" in proc.stderr, proc.stderr
    assert json.loads(copy.cli("status", "--format", "json").stdout)["pending"]["rebuild_all"] is False


def test_status_says_what_a_refresh_that_did_not_finish_left_for_the_next(ws, tmp_path):
    """A refresh killed after its load leaves its work in the build file (users pending, or a full
    rebuild owed), which the next refresh builds whichever days it is given: `status` says so among
    the pending work, and no more once a refresh has built it. It cannot tell while a refresh holds
    the lock (that refresh is doing the work), nor when the build file does not go on from the
    published file (the next refresh starts again from that file)."""
    from orchestration.build.build_file import refresh_lock
    from orchestration.build.refresh_state import mark_full_refresh_owed, seeds_fingerprint
    from orchestration.settings import build_path_for

    copy = Workspace(tmp_path)
    shutil.copytree(ws.exports, copy.exports)
    copy_warehouse(ws.warehouse, copy.warehouse)
    build = build_path_for(copy.warehouse)

    def unbuilt() -> tuple[dict | None, str]:
        work = json.loads(copy.cli("status", "--format", "json").stdout)["pending"]["unbuilt_work"]
        [line] = [line for line in copy.cli("status").stdout.splitlines() if line.startswith("pending ")]
        return work, line.removeprefix("pending").strip()

    assert unbuilt() == ({"full_rebuild": False, "users": 0}, "nothing: every export day folder is loaded as delivered")
    # whether the seeds changed since the models were built: the build file's answer, which the next
    # refresh asks, where a refresh built with other seeds and did not publish (either way round)
    current = seeds_fingerprint()
    for built, published, rebuild_all in [("other seeds", current, True), (current, "other seeds", False)]:
        alter(build, f"update raw.built_with_seeds set fingerprint = '{built}'")
        alter(copy.warehouse, f"update raw.built_with_seeds set fingerprint = '{published}'")
        assert json.loads(copy.cli("status", "--format", "json").stdout)["pending"]["rebuild_all"] is rebuild_all
    alter(build, f"update raw.built_with_seeds set fingerprint = '{current}'")
    alter(build, f"insert into raw.pending_users values ('{D2}', '{ACME}', 'u-a'), ('{D4}', '{ACME}', 'u-a'), "
                 f"('{D4}', '{ACME}', 'u-d')")
    assert unbuilt() == ({"full_rebuild": False, "users": 2}, "the rows of 2 user(s), which the next refresh "
                         "recomputes: a refresh loaded their events and did not finish")
    mark_full_refresh_owed(build)
    assert unbuilt() == ({"full_rebuild": True, "users": 2}, "every model, which the next refresh rebuilds: a full "
                         "rebuild was started and did not finish")
    with refresh_lock(copy.warehouse, timeout=0):  # a refresh at work
        assert unbuilt()[0] is None
    # the next refresh does what status said
    assert "dbt build --full-refresh" in copy.cli("refresh", "--day", D4).stderr
    assert unbuilt() == ({"full_rebuild": False, "users": 0}, "nothing: every export day folder is loaded as delivered")
    alter(build, "delete from raw.publishes")  # another build file than the published file's
    mark_full_refresh_owed(build)
    assert unbuilt()[0] is None


def test_loaded_days_whose_folder_is_gone_are_named_by_status_and_kept_by_a_full_rebuild(ws, tmp_path):
    """Old export folders deleted to free the disk: their days stay loaded (only a reload of a day
    replaces its rows), even through `refresh --all --full`, and status names them; unknown (null)
    when the exports folder cannot be listed."""
    pruned = Workspace(tmp_path)
    copy_warehouse(ws.warehouse, pruned.warehouse)
    shutil.copytree(ws.exports / f"dt={D4}", pruned.exports / f"dt={D4}")  # D1 and D2 deleted
    marts = "select count(*) from marts.fct_chats_daily", "select count(*) from marts.fct_users"
    before = [pruned.query(sql) for sql in marts]
    status = json.loads(pruned.cli("status", "--format", "json").stdout)
    assert status["export_days"]["without_folder"] == [D1, D2]
    assert status["pending"]["export_days"] == []
    assert (f"               loaded, their folder since gone from the exports (rows kept): {D1} .. {D2}"
            in pruned.cli("status").stdout.splitlines())

    pruned.cli("refresh", "--all", "--full")
    assert [pruned.query(sql) for sql in marts] == before
    assert pruned.query("select export_date::varchar from raw.export_days order by 1") == [(D1,), (D2,), (D4,)]
    assert collect_status(pruned.warehouse, tmp_path / "none")["export_days"]["without_folder"] is None


def test_a_removed_warehouse_is_built_again_from_the_exports_alone(ws, tmp_path):
    """The published file deleted to start over: the next refresh builds from the exports that are
    there, not from the hidden build file, which still held a day whose folder is gone too."""
    again = Workspace(tmp_path)
    copy_warehouse(ws.warehouse, again.warehouse)
    for day in (D1, D4):
        shutil.copytree(ws.exports / f"dt={day}", again.exports / f"dt={day}")
    again.warehouse.unlink()
    # `--full` alone rebuilds from what is loaded: now nothing (it read the old build file's days)
    proc = again.cli("refresh", "--full", check=False)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"  {again.warehouse} was removed since the last refresh published it: the build file starts again "
        "from nothing", "assistant-analytics: error: nothing is loaded yet: run `refresh --all` (or give --day)"]
    again.cli("refresh", "--all", "--full")
    assert again.query("select export_date::varchar from raw.export_days order by 1") == [(D1,), (D4,)]
    assert again.query("select count(*) from marts.data_quality_daily where export_date = ?", [D2]) == [(0,)]


def test_days_an_earlier_loader_judged_are_pending_to_load_again(ws, tmp_path):
    """A day loaded by an earlier revision of the loader (its rules may judge some lines otherwise)
    is pending until it is loaded again: `status` names it as such, and the sensor, which compares
    the same fingerprints, asks for a run of it. Revision 1 recorded the bare digest."""
    upgraded = Workspace(tmp_path)
    copy_warehouse(ws.warehouse, upgraded.warehouse)
    upgraded.exports.symlink_to(ws.exports, target_is_directory=True)
    with duckdb.connect(str(upgraded.warehouse)) as conn:
        conn.execute("update raw.export_days set fingerprint = split_part(fingerprint, ':', 2) "
                     "where export_date = ?", [D1])
    pending = json.loads(upgraded.cli("status", "--format", "json").stdout)["pending"]
    assert pending["export_days"] == [{"export_date": D1, "reason": "older_loader"}]
    assert f"loaded by an earlier version of the loader (to load again): {D1}" in upgraded.cli("status").stdout


@pytest.mark.parametrize("command", [["status"], ["report", "--assistant", "acme-support", "--from", "2026-11-01",
                                                  "--to", "2026-11-07"], ["export", "fct_chats", "-o", "chats.csv"]])
def test_a_missing_warehouse_is_one_line_whose_hint_builds_it_from_the_exports_given(workspace, command):
    """The hint builds the warehouse from the exports folder given, not from the default one."""
    error = one_line_error(workspace.cli(*command, check=False))
    assert error.endswith(f"warehouse file not found: {workspace.warehouse} (build it first: `assistant-analytics "
                          f"refresh --all --warehouse {workspace.warehouse} --exports {workspace.exports}`)"), error


@pytest.mark.parametrize("env, says", [
    ({"ANALYTICS_SENSOR_MAX_RUNS": "0"}, "ANALYTICS_SENSOR_MAX_RUNS='0' is not valid"),
    ({"ANALYTICS_FIRST_EXPORT_DAY": "2099-01-01x"}, "ANALYTICS_FIRST_EXPORT_DAY='2099-01-01x' is not valid"),
    ({"DAGSTER_HOME": "relative/home"}, "DAGSTER_HOME='relative/home' is not an absolute path"),
])
def test_demo_checks_the_settings_before_it_writes_anything(workspace, env, says):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_") and k != "DAGSTER_HOME"}
    proc = subprocess.run([CLI, "demo", "--days", "1", "--warehouse", str(workspace.warehouse),
                           "--exports", str(workspace.exports)], env={**clean, **env}, cwd=workspace.root,
                          capture_output=True, text=True, timeout=120)
    assert says in one_line_error(proc)
    assert not workspace.exports.exists() and not workspace.warehouse.exists()


@pytest.mark.parametrize("days, first_export_day, says", [
    # once a traceback: the first day before the year 1
    ("1000000", "", "--days 1000000 reaches before the first export day 2024-01-01 (ANALYTICS_FIRST_EXPORT_DAY): "
                    "the demo's days end on 2026-11-22, so at most --days 1057"),
    # once refused by the refresh after the exports were written
    ("3", "2026-11-21", "--days 3 reaches before the first export day 2026-11-21 (ANALYTICS_FIRST_EXPORT_DAY): "
                        "the demo's days end on 2026-11-22, so at most --days 2"),
    ("1", "2026-11-23", "the demo's export days end on 2026-11-22, outside the export days 2026-11-23 .. "),
])
def test_demo_days_that_are_not_export_days_are_refused_before_anything_is_written(workspace, days,
                                                                                     first_export_day, says):
    env = {**environment_without_settings(), "ANALYTICS_FIRST_EXPORT_DAY": first_export_day}
    proc = subprocess.run([CLI, "demo", "--days", days, "--warehouse", str(workspace.warehouse),
                           "--exports", str(workspace.exports)], env=env, cwd=workspace.root,
                          capture_output=True, text=True, timeout=120)
    assert says in one_line_error(proc)
    assert not workspace.exports.exists() and not workspace.warehouse.exists()


def test_the_demo_takes_every_day_from_the_first_export_day(monkeypatch):
    monkeypatch.setenv("ANALYTICS_FIRST_EXPORT_DAY", "2026-11-21")
    check_demo_days(2)
    with pytest.raises(UserError, match="at most --days 2$"):
        check_demo_days(3)
    monkeypatch.setenv("ANALYTICS_FIRST_EXPORT_DAY", "2026-11-22")
    check_demo_days(1)
    monkeypatch.delenv("ANALYTICS_FIRST_EXPORT_DAY")
    check_demo_days(1057)  # 2024-01-01 .. 2026-11-22
    with pytest.raises(UserError, match="at most --days 1057$"):
        check_demo_days(1058)


def test_demo_refuses_real_exports_and_a_warehouse_it_did_not_build(workspace):
    """events.md: the warehouse never writes exports. The demo writes sample export days, replacing
    any folder of the same date, and loads them: a folder of real exports, or a warehouse built
    from them, is refused before anything is written (the demo's own folder is marked)."""
    real = write_export(workspace.exports, "2026-11-22", "mine.jsonl",
                        [event("mine", "user_message", "2026-11-22T09:00:00Z")])
    proc = workspace.cli("demo", "--days", "1", check=False)
    refusal = (f"assistant-analytics: error: {workspace.exports} holds export days the demo did not mark as its own "
               "(2026-11-22 ...; a demo before 2026-12-05 marked none): the demo would replace them with sample "
               "data; give it an empty folder with --exports")
    assert proc.returncode == 2 and proc.stderr.splitlines() == [refusal]
    assert real.read_text() and sorted(p.name for p in real.parent.iterdir()) == ["mine.jsonl"]
    # with a warehouse there too, which a new folder would not make the demo's: both options at once
    duckdb.connect(str(workspace.warehouse)).close()
    proc = workspace.cli("demo", "--days", "1", check=False)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"{refusal} and, as {workspace.warehouse} exists, a new file with --warehouse"]
    workspace.warehouse.unlink()
    # not even the folder of a warehouse path that has none yet
    elsewhere = workspace.root / "new" / "warehouse.duckdb"
    proc = subprocess.run([CLI, "demo", "--days", "1", "--exports", str(workspace.exports), "--warehouse",
                           str(elsewhere)], capture_output=True, text=True, env=environment_without_settings())
    assert proc.returncode == 2 and "holds export days the demo did not mark as its own" in proc.stderr
    assert not elsewhere.parent.exists()

    shutil.rmtree(workspace.exports)
    duckdb.connect(str(workspace.warehouse)).close()  # a DuckDB file, empty
    proc = workspace.cli("demo", "--days", "1", check=False)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"assistant-analytics: error: {workspace.warehouse} exists and was not built by the demo from "
        f"{workspace.exports}: the demo would load sample data into it; give it a new file with --warehouse"]
    assert not workspace.exports.exists()


def test_the_demo_and_a_refresh_write_nothing_into_an_export_day_folder(tmp_path, capsys, monkeypatch):
    """events.md: the warehouse never writes exports. The demo given an export day folder as its
    exports folder (or a folder in one) would write its day folders and its mark among the
    platform's files; a refresh (the demo's too) given a warehouse there would put the file, its
    build file, lock and record beside them. Each is one line and exit 2, with nothing written."""
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    exports = tmp_path / "exports"
    day = write_export(exports, "2026-11-22", "part-0000.jsonl",
                       [event("mine", "user_message", "2026-11-22T09:00:00Z")]).parent
    before = sorted(p.name for p in day.iterdir())
    for demo_exports, where in ((day, "is an export day folder"), (day / "sub", f"is in the export day folder {day}")):
        assert cli.main(["demo", "--days", "1", "--exports", str(demo_exports), "--warehouse",
                         str(tmp_path / "demo.duckdb")]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"assistant-analytics: error: {demo_exports} {where}, whose files are the platform's, only read: the "
            "demo would write its sample days there; give it an exports folder outside one"]
    in_day = day / "w.duckdb"
    for command in (["refresh", "--day", "2026-11-22"], ["demo", "--days", "1"]):
        assert cli.main([*command, "--exports", str(exports), "--warehouse", str(in_day)]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"assistant-analytics: error: the warehouse {in_day} is in the export day folder {day}, whose files "
            "are the platform's, only read: give a path outside the export day folders"]
    assert sorted(p.name for p in day.iterdir()) == before and not (tmp_path / "demo.duckdb").exists()


@pytest.mark.parametrize("days", [["--all"], ["--from", "2026-11-20", "--to", "2026-11-22"], ["--day", "2026-11-22"]])
def test_a_refresh_from_an_exports_folder_that_is_not_there_says_so(tmp_path, capsys, days):
    """A mistyped --exports (or ANALYTICS_EXPORTS): every way of giving the days says the folder is
    not there, not that it holds no day folder."""
    exports = tmp_path / "exprots"
    assert cli.main(["refresh", *days, "--exports", str(exports), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith(f"no exports folder {exports} (ANALYTICS_EXPORTS, or the exports folder given)"), line


def test_sigterm_before_the_refreshs_run_is_an_interrupted_refresh(workspace):
    """cli.md: a refresh takes SIGTERM as its Dagster run does, "interrupted" and 130, also before
    its run starts (here: while it waits for another refresh's lock, which it says once), where it
    ended at once with no line; nothing of it is left running."""
    from orchestration.build.build_file import refresh_lock

    write_export(workspace.exports, "2026-11-22", "part-0000.jsonl",
                 [event("e1", "user_message", "2026-11-22T09:00:00Z")])
    env = {**environment_without_settings(), "ANALYTICS_LOCK_TIMEOUT_SECONDS": "120",
           "DAGSTER_HOME": str(workspace.dagster_home)}
    waiting = (f"  another refresh of {workspace.warehouse} is running: waiting for it to finish (up to 120s, "
               "ANALYTICS_LOCK_TIMEOUT_SECONDS)")
    with refresh_lock(workspace.warehouse, timeout=0):
        proc = subprocess.Popen([CLI, "refresh", "--day", "2026-11-22", "--warehouse", str(workspace.warehouse),
                                 "--exports", str(workspace.exports)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=workspace.root,
                                start_new_session=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stderr), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 120
            while waiting not in lines:  # the lock's wait said
                assert proc.poll() is None and time.monotonic() < deadline, lines
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            reader.join(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    stderr = "\n".join(lines)
    assert (proc.returncode, stderr.splitlines()[-1]) == (130, "assistant-analytics: interrupted"), stderr
    assert "Traceback" not in stderr, stderr
    assert process_group_gone(proc, 10)  # its dbt made ready ahead ends too
    assert not workspace.warehouse.exists()


def test_a_marked_demo_folder_does_not_make_any_warehouse_or_day_the_demos(tmp_path):
    """A folder the demo wrote is marked with its days and the warehouses it loaded them into: a
    warehouse built from other exports (ANALYTICS_WAREHOUSE pointing at production), or a day the
    demo never wrote, is refused all the same; a warehouse loaded from the folder's files as they
    are (a demo before the mark named warehouses) is the demo's."""
    from orchestration.cli.commands import check_demo_target
    from orchestration.demo.writer import mark
    from orchestration.load.exports import fingerprint

    exports, production = tmp_path / "exports", tmp_path / "production.duckdb"
    folder = write_export(exports, "2026-11-22", "part-0000.jsonl",
                          [event("d-1", "user_message", "2026-11-22T09:00:00Z")]).parent
    mark(exports, [dt.date(2026, 11, 22)])
    with duckdb.connect(str(production)) as conn:
        conn.execute("create schema raw; create table raw.export_days (export_date date, fingerprint varchar)")
        conn.execute("insert into raw.export_days values ('2026-11-22', 'r2:other-files')")
    not_the_demos = re.escape(f".duckdb exists and was not built by the demo from {exports}: ")
    with pytest.raises(UserError, match="production" + not_the_demos):
        check_demo_target(exports, production)
    other = tmp_path / "other.duckdb"  # a DuckDB file of something else: no export day loaded
    duckdb.connect(str(other)).close()
    with pytest.raises(UserError, match="other" + not_the_demos):
        check_demo_target(exports, other)

    with duckdb.connect(str(production)) as conn:  # loaded from these very files: the demo's own
        conn.execute("update raw.export_days set fingerprint = ?", [fingerprint(folder)])
    check_demo_target(exports, production)
    with duckdb.connect(str(production)) as conn:  # a demo cut short, after it named the warehouse
        conn.execute("update raw.export_days set fingerprint = 'r2:files-written-since'")
    mark(exports, warehouse=production)
    check_demo_target(exports, production)

    write_export(exports, "2026-11-23", "mine.jsonl", [event("mine", "user_message", "2026-11-23T09:00:00Z")])
    with pytest.raises(UserError, match=r"holds export days the demo did not mark as its own \(2026-11-23 \.\.\.;"):
        check_demo_target(exports, tmp_path / "new.duckdb")


def test_a_demo_folder_of_an_earlier_version_stays_the_demos_after_a_shorter_demo(tmp_path):
    """An earlier demo's mark was a line of text, listing no days: its folder's days are the demo's,
    also once a demo of fewer days has written the mark anew."""
    from orchestration.cli.commands import check_demo_target
    from orchestration.demo.writer import DEMO_MARK, mark

    exports = tmp_path / "exports"
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        write_export(exports, day, "part-0000.jsonl", [event(f"e-{day}", "user_message", f"{day}T09:00:00Z")])
    (exports / DEMO_MARK).write_text("sample exports written by `assistant-analytics demo`\n", encoding="utf-8")
    check_demo_target(exports, tmp_path / "w.duckdb")
    mark(exports, [dt.date(2026, 11, 22)])  # a demo of one day
    check_demo_target(exports, tmp_path / "w.duckdb")


def test_the_demos_exports_are_marked_as_its_own(tmp_path):
    from orchestration.demo.generator import generate_exports
    from orchestration.demo.writer import written_by_the_demo

    assert not written_by_the_demo(tmp_path)
    generate_exports(tmp_path, days=1)
    assert written_by_the_demo(tmp_path)


def test_a_demo_run_again_with_fewer_days_says_the_earlier_days_are_still_there(tmp_path):
    from orchestration.cli.commands import earlier_demo_days_note
    from orchestration.demo.generator import generate_exports

    generate_exports(tmp_path, days=3)
    assert earlier_demo_days_note(tmp_path, [dt.date(2026, 11, d) for d in (20, 21, 22)]) is None
    generate_exports(tmp_path, days=1)
    assert earlier_demo_days_note(tmp_path, [dt.date(2026, 11, 22)]) == (
        f"2 export day(s) of an earlier demo (2026-11-20 .. 2026-11-21) are still in {tmp_path} and in the warehouse, "
        "beside these 1: the report and the dashboard count them too; for these days alone, give the demo a new "
        "--exports and --warehouse")


def test_a_range_names_a_day_folder_that_is_a_link_as_one(tmp_path, capsys):
    """A day of the range whose folder is a symbolic link is not read (as `--all` and `status` say
    of it), and the note says so: not "no folder", while the folder is there to see."""
    from orchestration.cli.commands import _days_of_range

    exports = tmp_path / "exports"
    for day in ("2026-11-20", "2026-11-23"):
        (exports / f"dt={day}").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (exports / "dt=2026-11-21").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert _days_of_range(exports, dt.date(2026, 11, 20), dt.date(2026, 11, 23)) == [
        dt.date(2026, 11, 20), dt.date(2026, 11, 23)]
    assert capsys.readouterr().err.splitlines() == [
        "assistant-analytics: note: no folder for 1 export day(s) of the range, not loaded: 2026-11-22",
        "assistant-analytics: note: not reading 1 day folder(s) of the range that are symbolic links (links are "
        "not read; copy the folder in): dt=2026-11-21"]
    # a range whose only day folders are links (one of them dangling): named as such, not "no folder"
    (exports / "dt=2026-11-25").symlink_to(tmp_path / "gone", target_is_directory=True)
    with pytest.raises(UserError, match=r"^no export day between 2026-11-24 and 2026-11-25 to read: the range's only "
                                        r"day folders are symbolic links, .*: dt=2026-11-25$"):
        _days_of_range(exports, dt.date(2026, 11, 24), dt.date(2026, 11, 25))
    with pytest.raises(UserError, match=r"^no export day between 2026-11-21 and 2026-11-22 to read: "
                                        r".*: dt=2026-11-21$"):
        _days_of_range(exports, dt.date(2026, 11, 21), dt.date(2026, 11, 22))


def test_a_range_loads_the_days_it_has_and_names_the_gaps(tmp_path, capsys):
    """events.md: a missing export day is expected and may not stop a load. A backfill's range
    loads the days that have a folder and names the others in a note; a range with none is an
    error (exit 2), as a missing day asked for by --day is (interfaces.md)."""
    from orchestration.cli.commands import _days_of_range

    exports = tmp_path / "exports"
    for day in ("2026-11-20", "2026-11-22", "2026-11-27"):
        (exports / f"dt={day}").mkdir(parents=True)
    assert _days_of_range(exports, dt.date(2026, 11, 20), dt.date(2026, 11, 22)) == [
        dt.date(2026, 11, 20), dt.date(2026, 11, 22)]
    assert capsys.readouterr().err.splitlines() == [
        "assistant-analytics: note: no folder for 1 export day(s) of the range, not loaded: 2026-11-21"]
    _days_of_range(exports, dt.date(2026, 11, 20), dt.date(2026, 11, 27))
    assert capsys.readouterr().err.splitlines() == [
        "assistant-analytics: note: no folder for 5 export day(s) of the range, not loaded: 2026-11-21, "
        "2026-11-23, 2026-11-24, 2026-11-25, 2026-11-26"]
    _days_of_range(exports, dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    assert capsys.readouterr().err == ""

    assert cli.main(["refresh", "--from", "2026-11-23", "--to", "2026-11-26", "--exports", str(exports),
                     "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"assistant-analytics: error: no export day between 2026-11-23 and 2026-11-26: no dt=YYYY-MM-DD folder "
        f"in {exports}"]
    # a range of one day is that day, as `--day` names it
    assert cli.main(["refresh", "--from", "2026-11-23", "--to", "2026-11-23", "--exports", str(exports),
                     "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"assistant-analytics: error: export day 2026-11-23 not found: no folder {exports / 'dt=2026-11-23'}"]

    # a range that reaches outside the export days is the error alone, not a note of its gaps first
    (exports / "dt=2023-06-01").mkdir()
    assert cli.main(["refresh", "--from", "2023-01-01", "--to", "2026-11-22", "--exports", str(exports),
                     "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("assistant-analytics: error: export day 2023-01-01 is outside the export days "), line
    # so is a day given alone, with or without its folder: not "no folder" first, then "outside"
    for day in ("2023-01-01", "2023-06-01", "3000-01-01"):
        assert cli.main(["refresh", "--day", "2026-11-20", "--day", day, "--exports", str(exports),
                         "--warehouse", str(tmp_path / "w.duckdb")]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"assistant-analytics: error: export day {day} is outside the export days "), line


def test_all_passes_by_folders_dated_outside_the_export_days(tmp_path, capsys):
    from orchestration.cli.commands import _days_of_all

    exports = tmp_path / "exports"
    for day in ("2023-12-31", "2026-11-20", "2030-01-01"):
        (exports / f"dt={day}").mkdir(parents=True)
    assert _days_of_all(exports) == [dt.date(2026, 11, 20)]
    assert capsys.readouterr().err.splitlines() == [
        "assistant-analytics: note: passing by 2 folder(s) dated outside the export days "
        "(ANALYTICS_FIRST_EXPORT_DAY to tomorrow, UTC): dt=2023-12-31, dt=2030-01-01"]
    (exports / "dt=2026-11-31").mkdir()
    (exports / "dt=2026-11-5").mkdir()
    (exports / "dt=notes\x1b[2J").mkdir()  # a terminal's escape: shown, not acted on
    (exports / "dt=2026-11-19").write_text("a file, not a day's folder\n")  # a delivery gone wrong
    (exports / "exports-readme").mkdir()  # not named like an export day: not named either
    (exports / "dt=2026-11-21").symlink_to(exports / "dt=2026-11-20")  # a link: not read, but named
    (exports / "dt=2026-11-22 ").mkdir()  # its space would be hidden in the list: quoted
    (exports / "dt=2026-11-23\t").symlink_to(exports / "dt=2026-11-20")
    assert _days_of_all(exports) == [dt.date(2026, 11, 20)]
    assert capsys.readouterr().err.splitlines()[:2] == [
        "assistant-analytics: note: not reading what is named like an export day but not a "
        "dt=YYYY-MM-DD folder with a real date (5): dt=2026-11-19, \"dt=2026-11-22 \", dt=2026-11-31, dt=2026-11-5, "
        "dt=notes\\x1b[2J",
        "assistant-analytics: note: not reading 2 day folder(s) that are symbolic links (links are not read; "
        "copy the folder in): dt=2026-11-21, \"dt=2026-11-23\\t\""]
    (exports / "dt=2026-11-21").unlink()
    (exports / "dt=2026-11-23\t").unlink()
    (exports / "dt=2026-11-22 ").rmdir()
    (exports / "dt=2026-11-20").rmdir()
    with pytest.raises(UserError, match="^no export day in .* is within the export days"):
        _days_of_all(exports)


def test_a_first_export_day_after_tomorrow_is_named_as_why_no_day_is_an_export_day(tmp_path, capsys, monkeypatch):
    """A first export day after tomorrow leaves no export day; the refusal says so, where it gave
    the range of export days backwards (from that day to tomorrow)."""
    exports = tmp_path / "exports"
    (exports / "dt=2026-11-20").mkdir(parents=True)
    monkeypatch.setenv("ANALYTICS_FIRST_EXPORT_DAY", "2999-12-31")
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    why = (f"assistant-analytics: error: no day is an export day yet: ANALYTICS_FIRST_EXPORT_DAY=2999-12-31 is "
           f"after tomorrow ({tomorrow}, UTC)")
    for days in (["--day", "2026-11-20"], ["--all"]):
        assert cli.main(["refresh", *days, "--exports", str(exports), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
        assert capsys.readouterr().err.splitlines() == [why]


def test_the_report_of_dagster_dbts_closed_reader_is_left_out_and_no_other(monkeypatch):
    """Ctrl-C during dbt's build: dagster-dbt's reader of dbt's output swallows GeneratorExit (a bare
    `except`) and yields again, which Python reported with a traceback above "interrupted"."""
    import gc
    import sys

    from orchestration.cli.refresh import _leave_out_closed_dbt_stream_reports

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(repr(unraisable.object)))
    _leave_out_closed_dbt_stream_reports()

    class DbtCliInvocation:  # the shape of dagster-dbt's reader
        def _stream_stdout(self):
            try:
                yield "a line"
            except:  # noqa: E722 (as dagster-dbt has it)
                yield "another"

    class Other:
        def _stream_stdout(self):
            try:
                yield "a line"
            except:  # noqa: E722
                yield "another"

    for owner in (DbtCliInvocation(), Other()):
        reader = owner._stream_stdout()
        next(reader)
        del reader  # closed: GeneratorExit, ignored
        gc.collect()
    assert len(reported) == 1 and "Other._stream_stdout" in reported[0], reported


def test_the_run_line_counts_the_loaded_days_not_the_span_for_full_alone():
    from orchestration.cli.refresh import run_line

    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 22)
    assert run_line(1, 2, first, last, None) == "run 1/2: export days 2026-11-01 .. 2026-11-22 (22 days)"
    assert run_line(1, 1, first, last, 3) == ("run 1/1: every model rebuilt from the loaded export days "
                                              "2026-11-01 .. 2026-11-22 (3 days), none loaded again")
    assert run_line(1, 1, first, first, 1).endswith("(1 day), none loaded again")


@pytest.mark.slow
def test_a_full_rebuild_of_days_with_gaps_builds_every_model_once(workspace: Workspace):
    """`refresh --all --full` over export days with a gap between them: one run per unbroken range
    of days, but only the last builds the models (in full, once) and publishes; the first only
    loads. Every model was rebuilt once per range before. A run of several days says, before its
    load, that Dagster records its planned materializations first (a silence that grows with the
    days, in a Dagster home's SQLite storage)."""
    for day in (D1, D2, D4):
        write_export(workspace.exports, day, "part-0000.jsonl", _chat(day[-2:], day, "09:00", user=f"u-{day}"))
    proc = workspace.cli("refresh", "--all", "--full")
    lines = [line.strip() for line in proc.stderr.splitlines()]
    assert lines[:2] == [f"run 1/2: export days {D1} .. {D2} (2 days), loaded only (every model is rebuilt once, "
                         "in the last run)",
                         f"Dagster records the run's planned materializations (one per asset and day of {D1} .. {D2}) "
                         "in its run history first ..."], proc.stderr
    assert lines[2].startswith(f"loaded export day {D1} (1/2)"), proc.stderr
    assert f"run 2/2: export days {D4} .. {D4} (1 day)" in lines
    assert len([line for line in lines if line.startswith("Dagster records ")]) == 1  # not for a day alone
    assert [line for line in lines if line.startswith("dbt build --full-refresh")] == ["dbt build --full-refresh ..."]
    assert len([line for line in lines if line.startswith("published ")]) == 1
    assert workspace.query("select chat_local_date, count(*) from marts.fct_chats group by all order by 1") == [
        (dt.date.fromisoformat(day), 1) for day in (D1, D2, D4)]


def test_a_failed_error_check_is_one_warning_naming_the_runs_days_over_the_threshold():
    """A run's rejected-share check names its days over the threshold: one line for them; a failed
    check of severity WARN (stale exports: status says so) is no line; another failed check of
    severity ERROR is named as it is."""
    from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, MetadataValue

    from orchestration.cli.refresh import failed_check_messages

    def evaluation(name, severity, passed=False, **metadata):
        return AssetCheckEvaluation(asset_key=AssetKey(["raw", "rejected_lines"]), check_name=name, passed=passed,
                                    severity=severity, metadata=metadata)

    def shares(over):
        return evaluation("rejected_share_under_threshold", AssetCheckSeverity.ERROR,
                          threshold=MetadataValue.float(0.02), days_over_threshold=MetadataValue.json(over))

    stale = evaluation("exports_are_fresh", AssetCheckSeverity.WARN)
    assert failed_check_messages([shares({"2026-11-21": 0.5}), stale]) == [
        "rejected lines above ANALYTICS_MAX_REJECTED_SHARE (0.02) on export day(s) 2026-11-21 (50.00%); "
        "see raw.rejected_lines (Dagster's check rejected_share_under_threshold failed)"]
    assert failed_check_messages([shares({"2026-11-21": 0.5, "2026-11-20": 0.0201})]) == [
        "rejected lines above ANALYTICS_MAX_REJECTED_SHARE (0.02) on export day(s) 2026-11-20 (2.01%), "
        "2026-11-21 (50.00%); see raw.rejected_lines (Dagster's check rejected_share_under_threshold failed)"]
    assert failed_check_messages([evaluation("ok", AssetCheckSeverity.ERROR, True)]) == []
    assert failed_check_messages([evaluation("other", AssetCheckSeverity.ERROR)]) == [
        "Dagster's check other of raw/rejected_lines failed"]


def test_a_report_while_the_first_refresh_runs_says_so(tmp_path, monkeypatch):
    """Before the first publish the file does not exist: while a refresh holds the warehouse, the
    line says that one is running, not to run one."""
    from orchestration.build.build_file import refresh_lock
    from orchestration.serve.report import check_published_file

    warehouse = tmp_path / "w.duckdb"
    monkeypatch.delenv("ANALYTICS_WAREHOUSE", raising=False)
    with pytest.raises(UserError, match=re.escape(f"(build it first: `assistant-analytics refresh --all --warehouse "
                                                  f"{warehouse}`)") + "$"):
        check_published_file(warehouse)
    # a default the system cannot look up (a loop of links) is not the warehouse given: the hint, not its error
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(tmp_path / "loop" / "w.duckdb"))
    with pytest.raises(UserError, match=re.escape(f"not found: {warehouse} (build it first: `assistant-analytics "
                                                  f"refresh --all --warehouse {warehouse}`)") + "$"):
        check_published_file(warehouse)
    monkeypatch.setenv("ANALYTICS_WAREHOUSE", str(warehouse))  # the default warehouse: not named again
    with pytest.raises(UserError, match=r"\(build it first: `assistant-analytics refresh --all`\)$"):
        check_published_file(warehouse)
    # the exports folder the command was given, unless it is the default one
    exports = tmp_path / "my exports"
    with pytest.raises(UserError, match=re.escape(f"(build it first: `assistant-analytics refresh --all --exports "
                                                  f"'{exports}'`)") + "$"):
        check_published_file(warehouse, exports)
    monkeypatch.setenv("ANALYTICS_EXPORTS", str(exports))
    with pytest.raises(UserError, match=r"\(build it first: `assistant-analytics refresh --all`\)$"):
        check_published_file(warehouse, exports)
    with refresh_lock(warehouse), pytest.raises(UserError, match=r"\(a refresh of it is running; "):
        check_published_file(warehouse)


# ----------------------------------------------------------------------------- a damaged published file

def _a_block_status_cannot_read(source: Path, target: Path) -> int:
    """A block whose damage lets the file open but fails a query of `status` (which one depends on
    the file's layout: looked for, in process)."""
    blocks = duckdb_blocks(source)
    for block in range(blocks):
        damaged = with_a_damaged_block(source, target, block)
        try:
            duckdb.connect(str(damaged), read_only=True).close()
        except duckdb.Error:
            continue  # the file does not even open: another case, tested elsewhere
        try:
            collect_status(damaged, target.parent)
        except duckdb.Error:
            return block
    pytest.fail(f"no block of {source} whose damage fails a query of status alone")


def test_a_damaged_block_of_the_published_file_is_one_line_in_every_read_command(ws: Workspace, tmp_path):
    """A block that fails DuckDB's checksum once a query reaches it (a disk fault): `status`,
    `report` and `export` each give one line naming the file, never a traceback; `export` does not
    blame the file it writes."""
    damaged = Workspace(tmp_path)
    block = _a_block_status_cannot_read(ws.warehouse, damaged.warehouse)
    with_a_damaged_block(ws.warehouse, damaged.warehouse, block)
    error = one_line_error(damaged.cli("status", check=False))
    assert error.startswith(f"assistant-analytics: error: cannot read the warehouse {damaged.warehouse}: "), error
    assert "the next refresh" in error
    for command in (["report", "--assistant", ACME, "--from", D1, "--to", D4],
                    ["export", "dim_chats", "-o", str(tmp_path / "chats.csv")]):
        proc = damaged.cli(*command, check=False)
        if proc.returncode != 0:  # the query may not reach the damaged block
            assert one_line_error(proc).startswith("assistant-analytics: error: cannot read the warehouse ")


def _a_block_whose_damage_the_stamps_meet(source: Path, target: Path) -> int:
    """A block whose damage fails the read of the file's publish stamps (its catalog, or the stamps'
    own table), which is how a refresh tells its published file from another."""
    from orchestration.build.build_file import publish_stamps

    for block in range(duckdb_blocks(source)):
        try:
            publish_stamps(with_a_damaged_block(source, target, block), read_only=True)
        except duckdb.Error as exc:
            if "Corrupt database file" in str(exc):
                return block
    pytest.fail(f"no block of {source} whose damage fails the read of its publish stamps")


def test_a_damaged_published_file_with_new_times_is_written_anew_by_the_next_refresh(ws: Workspace, tmp_path):
    """The published file damaged where its publish stamps are read, its modification time new (a
    broken copy put back, not a disk fault alone): the build file goes on, and the refresh's publish
    writes the file anew, every table readable and the numbers as they were. It was taken for a
    file the user chose to start from: every refresh then failed on its damage."""
    from orchestration.build.build_file import damage_found
    from orchestration.settings import build_path_for

    copy = Workspace(tmp_path)
    shutil.copytree(ws.exports, copy.exports)
    shutil.copyfile(build_path_for(ws.warehouse), build_path_for(copy.warehouse))
    with_a_damaged_block(ws.warehouse, copy.warehouse, _a_block_whose_damage_the_stamps_meet(ws.warehouse,
                                                                                             copy.warehouse))
    assert damage_found(copy.warehouse)
    proc = copy.cli("refresh", "--full")
    assert "the build file starts again" not in proc.stderr
    assert damage_found(copy.warehouse) is None
    assert copy.report(ACME, D1, D4) == ws.report(ACME, D1, D4)


def test_a_damaged_published_file_with_no_build_file_to_go_on_is_one_line_naming_both_remedies(ws: Workspace,
                                                                                                   tmp_path):
    """Nothing continues a damaged published file when its build file is gone: the refresh's one
    line says so, and that a good copy or every export day again is the way back."""
    from orchestration.settings import build_path_for

    copy = Workspace(tmp_path)
    shutil.copytree(ws.exports, copy.exports)
    with_a_damaged_block(ws.warehouse, copy.warehouse, _a_block_status_cannot_read(ws.warehouse, copy.warehouse))
    proc = copy.cli("refresh", "--full", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("assistant-analytics: error: ")]
    build = build_path_for(copy.warehouse)
    assert error.count(" is damaged (") == 1, error  # said once, not a line inside a line
    assert re.search(rf"the build file {re.escape(str(build))} is damaged \(.*Corrupt database file.*\), and so is "
                     rf"{re.escape(str(copy.warehouse))}, which the next refresh would start from: delete the build "
                     rf"file, then put back a good copy of {re.escape(str(copy.warehouse))}, or delete it too and "
                     r"refresh every export day again \(`--all`, with this refresh's --warehouse and --exports\)$",
                     error), error


def test_reading_the_warehouse_turns_duckdbs_errors_into_one_line(tmp_path):
    from orchestration.serve.report import reading_warehouse

    with pytest.raises(UserError, match=r"^cannot read the warehouse .*w\.duckdb: Corrupt database file: x \("):
        with reading_warehouse(tmp_path / "w.duckdb"):
            raise duckdb.Error("Corrupt database file: x\nmore")
    with pytest.raises(UserError, match="^unknown assistant"), reading_warehouse(tmp_path / "w.duckdb"):
        raise UserError("unknown assistant")  # the errors a command expects pass as they are
