"""What a refresh still owes, kept in the build file so that a killed refresh is finished by the next."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .loader import ensure_raw_schema

_DDL = "create table if not exists raw.refresh_state (full_refresh_owed boolean not null)"


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


def clear_pending(build: Path) -> None:
    """After a completed dbt build: every pending user is recomputed, any owed full rebuild is done."""
    conn = _connect(build)
    try:
        ensure_raw_schema(conn)
        conn.execute("begin transaction")
        conn.execute("delete from raw.pending_users")
        conn.execute("delete from raw.refresh_state")
        conn.execute("commit")
    finally:
        conn.close()
