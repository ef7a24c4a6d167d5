"""What a refresh still owes, kept in the build file so that a killed refresh is finished by the next."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from ..load.raw import ensure_raw_schema, transaction
from ..load.user_agents import parser_version
from .seeds import SEEDS_DIR

_DDL = """
create table if not exists raw.refresh_state (full_refresh_owed boolean not null);
create table if not exists raw.built_with_seeds (fingerprint varchar not null);
create table if not exists raw.built_with_engine (engine varchar not null);
"""


def _connect(build: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(build))
    conn.execute("create schema if not exists raw")
    conn.execute(_DDL)
    return conn


def full_refresh_owed(build: Path) -> bool:
    conn = _connect(build)
    try:
        return bool(conn.execute("select count(*) from raw.refresh_state where full_refresh_owed").fetchone()[0])
    finally:
        conn.close()


def mark_full_refresh_owed(build: Path) -> None:
    conn = _connect(build)
    try:
        conn.execute("delete from raw.refresh_state; insert into raw.refresh_state values (true)")
    finally:
        conn.close()


# Raised when a change of the models alters rows that an incremental refresh leaves as they are (an
# id's derivation): a build file whose models were built at another revision is rebuilt whole by its
# next refresh, so that no mart mixes rows of two revisions. 2: ids from values after their lengths.
MODELS_REVISION = "2"


def seeds_fingerprint() -> str:
    """Changes when a deployment edits a seed (a time zone, a timeout, a new assistant), upgrades
    the user-agent parser (load/user_agents.py) or the models' revision (MODELS_REVISION): inputs
    of every user's rows besides the events."""
    h = hashlib.sha256()
    for path in sorted(SEEDS_DIR.glob("*.csv")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(b"user agents parsed by\0" + parser_version().encode())
    h.update(b"models revision\0" + MODELS_REVISION.encode())
    return h.hexdigest()


def ensure_raw_tables(build: Path) -> None:
    """The build file's raw tables as this code writes them, raw.user_agents parsed by this parser
    among them: for a build that runs without a load (`refresh --full` alone after an upgrade)."""
    conn = _connect(build)
    try:
        ensure_raw_schema(conn)
    finally:
        conn.close()


def seeds_changed(build: Path, fingerprint: str) -> bool:
    """True when the models were built with other seeds: every user may change, so only a full
    rebuild gives what a full rebuild gives."""
    conn = _connect(build)
    try:
        return built_with_other_seeds(conn, fingerprint)
    finally:
        conn.close()


def built_with_other_seeds(conn: duckdb.DuckDBPyConnection, fingerprint: str) -> bool:
    """seeds_changed's answer for an open file: the build file, or the published file (its copy as
    last published), which `status` reads read-only and an older version wrote without the table."""
    try:
        built_with = conn.execute("select max(fingerprint) from raw.built_with_seeds").fetchone()[0]
    except duckdb.CatalogException:
        built_with = None
    if built_with is None:
        # Nothing recorded: models built before this check existed are rebuilt once; a new
        # build file has no models, and its first build is complete anyway.
        return bool(conn.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchone()[0])
    return built_with != fingerprint


def models_missing(build: Path, relations: list[tuple[str, str]]) -> list[str]:
    """The project's models (schema, name) that a build file whose models were built lacks: models
    new since its last build, which an incremental refresh would build from the recomputed users
    alone. Empty for a build file with no models yet (its first build is complete anyway)."""
    conn = _connect(build)
    try:
        present = set(conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "union all select schema_name, view_name from duckdb_views()").fetchall())
    finally:
        conn.close()
    if not any(schema == "marts" for schema, _ in present):
        return []
    return [f"{schema}.{name}" for schema, name in relations if (schema, name) not in present]


def engine_changed(build: Path, engine: str) -> bool:
    """True when the last completed build ran on another engine (ANALYTICS_ENGINE): the users it
    recomputed were cleared from raw.pending_users, but this engine's own tables (Spark's Parquet
    tables, or the DuckDB models Spark's copies replaced) never saw them."""
    conn = _connect(build)
    try:
        built_with = conn.execute("select max(engine) from raw.built_with_engine").fetchone()[0]
        if built_with is None:
            # Models built before the engine was recorded were built by DuckDB, the only engine then.
            has_models = conn.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchone()[0]
            built_with = "duckdb" if has_models else engine
        return built_with != engine
    finally:
        conn.close()


def clear_pending(build: Path, seeds: str, engine: str = "duckdb") -> None:
    """After a completed dbt build: every pending user is recomputed, any owed full rebuild is done,
    and the models are those of these seeds, built by this engine."""
    conn = _connect(build)
    try:
        ensure_raw_schema(conn)
        with transaction(conn):
            conn.execute("delete from raw.pending_users")
            conn.execute("delete from raw.refresh_state")
            conn.execute("delete from raw.built_with_seeds")
            conn.execute("insert into raw.built_with_seeds values (?)", [seeds])
            conn.execute("delete from raw.built_with_engine")
            conn.execute("insert into raw.built_with_engine values (?)", [engine])
    finally:
        conn.close()
