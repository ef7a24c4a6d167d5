"""The published warehouse in the BI tools analysts use (interfaces.md "BI tools", README "For BI users").

One small warehouse, published by one `refresh --all` of a few hand-made events, is opened from a
separate virtual environment holding what a BI tool brings: DuckDB's long-term-support release
(the latest 1.4.x on PyPI) and the `[bi]` extra of pyproject.toml (duckdb-engine + SQLAlchemy).
That environment is cached under tmp/ (ignored by git), keyed by what it installs.
Expected tables and columns come from the dbt models and from DuckDB in the project's own venv,
never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, Workspace, environment_without_settings, event, slow_fixture, write_export

LTS_DUCKDB = ["duckdb>=1.4,<1.5", "duckdb-cli>=1.4,<1.5"]  # the Python package and the CLI
DAY = "2026-11-23"


def bi_requirements() -> list[str]:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # pytz: DuckDB's Python client returns `timestamp with time zone` values through it (README)
    return [*LTS_DUCKDB, "pytz", *extras["bi"]]


@pytest.fixture(scope="module")
@slow_fixture
def bi_python() -> Path:
    """The Python of a venv with DuckDB 1.4 and the `[bi]` extra (created once, then reused). The
    venv gets no pip of its own: the suite's pip (the Quickstart's, brought up to date) installs
    into it, faster than the one `venv` bundles and without its set-up."""
    requirements = bi_requirements()
    key = hashlib.sha256(json.dumps([sys.version_info[:2], requirements]).encode()).hexdigest()[:12]
    venv = REPO / "tmp" / f"bi-venv-{key}"
    python = venv / "bin" / "python"
    ready = venv / "ready"
    if not ready.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True,
                       timeout=120)
        proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *requirements],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ready.write_text("\n".join(requirements) + "\n")
    return python


@pytest.fixture(scope="module")
@slow_fixture
def published(tmp_path_factory) -> Path:
    ws = Workspace(tmp_path_factory.mktemp("bi"))
    write_export(ws.exports, DAY, "part-0000.jsonl", [
        event("e1", "user_message", f"{DAY}T10:00:00Z", message_id="m1"),
        event("e2", "bot_message", f"{DAY}T10:00:05Z", message_id="m2"),
        event("e3", "user_message", f"{DAY}T11:00:00Z", user="u2", conversation="c2", channel="whatsapp",
              message_id="m3"),
        event("e4", "bot_message", f"{DAY}T11:00:30Z", user="u2", conversation="c2", channel="whatsapp",
              message_id="m4"),
    ])
    ws.cli("refresh", "--all")
    return ws.warehouse


def run_in(python: Path, script: str, *args: str) -> dict:
    proc = subprocess.run([str(python), "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return json.loads(proc.stdout)


def mart_names() -> set[str]:
    """Every mart, as dbt defines them."""
    return {p.stem for p in (REPO / "dbt_project" / "models" / "marts").glob("*.sql")}


def columns_in(warehouse: Path) -> dict[str, list[str]]:
    """Every mart's columns, read with the project's own DuckDB."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = conn.execute("select table_name, column_name from information_schema.columns "
                            "where table_schema = 'marts' order by table_name, ordinal_position").fetchall()
    finally:
        conn.close()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


DUCKDB_LTS_SCRIPT = r"""
import json, sys
import duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
marts = [t for (t,) in conn.execute(
    "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
# every column of every row is read (each row rendered as text), inside DuckDB
rows = {t: conn.execute(f'select count(*), sum(length(r::varchar)) from marts."{t}" as r').fetchone()[0]
        for t in marts}
# and every row fetched into Python, as an analyst's `select *` does
fetched = {t: len(conn.execute(f'select * from marts."{t}"').fetchall()) for t in marts}
print(json.dumps({"version": duckdb.__version__, "rows": rows, "fetched": fetched}))
"""


def test_duckdb_lts_reads_every_mart(bi_python, published):
    found = run_in(bi_python, DUCKDB_LTS_SCRIPT, str(published))
    assert found["version"].startswith("1.4."), found["version"]
    assert set(found["rows"]) == mart_names()
    conn = duckdb.connect(str(published), read_only=True)
    try:
        expected = {t: conn.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in mart_names()}
    finally:
        conn.close()
    assert found["rows"] == expected
    assert found["fetched"] == expected
    assert found["rows"]["fct_chats"] == 2  # u1 on web, u2 on WhatsApp


def test_duckdb_lts_cli_as_the_readme_says(bi_python, published):
    (command,) = set(re.findall(r"`(duckdb -readonly \S+)`", (REPO / "README.md").read_text()))
    args = command.split()
    args[0], args[-1] = str(bi_python.parent / "duckdb"), str(published)
    version = subprocess.run([args[0], "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith("v1.4."), version
    proc = subprocess.run(args + ["-csv", "-noheader"], input="select count(*) from marts.fct_chats;\n",
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, "2"), proc.stderr
    proc = subprocess.run(args, input="create table marts.written_by_cli (a integer);\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "read-only" in proc.stderr, (proc.stdout, proc.stderr)


def readme_superset_url() -> str:
    """The Superset (SQLAlchemy) connection string exactly as the README gives it."""
    urls = re.findall(r"duckdb:////\S+?\?access_mode=read_only", (REPO / "README.md").read_text())
    assert len(set(urls)) == 1, urls
    return urls[0]


SQLALCHEMY_SCRIPT = r"""
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
inspector = sa.inspect(engine)
tables = {t: [c["name"] for c in inspector.get_columns(t, schema="marts")]
          for t in inspector.get_table_names(schema="marts")}
with engine.connect() as conn:
    chats = conn.execute(sa.text("select count(*) from marts.fct_chats")).scalar()
    try:
        conn.execute(sa.text("create table marts.written_by_bi (a integer)"))
        write = "accepted"
    except Exception as exc:
        write = str(exc)
print(json.dumps({"sqlalchemy": sa.__version__, "tables": tables, "chats": chats, "write": write}))
"""


def test_sqlalchemy_reflects_every_mart_read_only(bi_python, published):
    template = readme_superset_url()
    url = re.sub(r"^duckdb:///(/\S+?)\?", lambda m: f"duckdb:///{published}?", template)
    assert url == f"duckdb:///{published}?access_mode=read_only"
    found = run_in(bi_python, SQLALCHEMY_SCRIPT, url)
    assert found["tables"] == columns_in(published)
    assert set(found["tables"]) == mart_names()
    assert found["chats"] == 2
    assert "read-only" in found["write"], found["write"]  # the connection string opens it read-only


def test_published_file_is_in_the_lts_format(published):
    from orchestration.build.build_file import storage_version

    assert storage_version(published) == "v1.4.0+"


# ---------------------------------------------------------------------------------------------
# the storage format: chosen where a file is created, converted where it is newer
# ---------------------------------------------------------------------------------------------


def write_in_newest_format(path: Path) -> None:
    """A small database as DuckDB 2.0 writes it by default (its own storage format)."""
    conn = duckdb.connect(str(path))
    try:
        conn.execute("create schema raw; create schema marts; create schema staging")
        conn.execute("create table raw.events as select range as n, 'e' || range as event_id from range(5000)")
        conn.execute("create table marts.fct_chats as select n % 7 as k, count(*) as chats from raw.events group by 1")
        conn.execute("create view staging.stg as select event_id from raw.events where n < 10")
    finally:
        conn.close()


CONTENT_SQL = ("select (select sum(n) from raw.events), (select sum(chats) from marts.fct_chats), "
               "(select count(*) from staging.stg)")
CONTENT = [(sum(range(5000)), 5000, 10)]


def test_a_build_file_in_a_newer_format_is_converted(bi_python, tmp_path):
    from orchestration.build.build_file import prepare_build_file, storage_version
    from orchestration.settings import build_path_for

    # the published file only (no build file yet): seeded from it, then converted
    first = tmp_path / "first" / "warehouse.duckdb"
    first.parent.mkdir()
    write_in_newest_format(first)
    assert storage_version(first) == "v2.0.0+"
    # a build file left in the newer format by an earlier version of the project
    second = tmp_path / "second" / "warehouse.duckdb"
    second.parent.mkdir()
    write_in_newest_format(build_path_for(second))

    for warehouse in (first, second):
        build = prepare_build_file(warehouse)
        assert build == build_path_for(warehouse)
        assert storage_version(build) == "v1.4.0+"
        conn = duckdb.connect(str(build), read_only=True)
        try:
            assert conn.execute(CONTENT_SQL).fetchall() == CONTENT
        finally:
            conn.close()
        found = run_in(bi_python, "import duckdb, json, sys; "
                                  "print(json.dumps(duckdb.connect(sys.argv[1], read_only=True)"
                                  f".execute({CONTENT_SQL!r}).fetchall()))", str(build))
        assert [tuple(r) for r in found] == CONTENT
        assert not list(build.parent.glob("*.tmp"))
    assert storage_version(first) == "v2.0.0+"  # the published file is replaced by the next publish only


def test_a_new_build_file_is_in_the_lts_format(tmp_path):
    from orchestration.build.build_file import prepare_build_file, storage_version

    build = prepare_build_file(tmp_path / "warehouse.duckdb")
    assert storage_version(build) == "v1.4.0+"
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_an_older_format_is_left_as_it_is(tmp_path):
    """1.4 reads the formats before its own: no conversion (and no copy of the database) for them."""
    from orchestration.build.build_file import prepare_build_file, storage_version
    from orchestration.settings import build_path_for

    build = build_path_for(tmp_path / "warehouse.duckdb")
    duckdb.connect(str(build), config={"storage_compatibility_version": "v1.2.0"}).close()
    inode = build.stat().st_ino
    assert prepare_build_file(tmp_path / "warehouse.duckdb") == build
    assert storage_version(build) == "v1.2.0+" and build.stat().st_ino == inode


@pytest.mark.slow
def test_a_file_dbt_creates_is_in_the_lts_format(tmp_path):
    """dbt run by hand on a new path (profiles.yml): the file it creates is one 1.4 reads."""
    from orchestration.build.build_file import storage_version
    from orchestration.build.dbt_project import dbt_executable

    target = tmp_path / "by_hand.duckdb"
    env = environment_without_settings()
    env["ANALYTICS_WAREHOUSE"] = str(target)
    proc = subprocess.run([dbt_executable(), "debug", "--project-dir", str(REPO / "dbt_project"),
                           "--profiles-dir", str(REPO)], cwd=REPO / "dbt_project", env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert storage_version(target) == "v1.4.0+"
