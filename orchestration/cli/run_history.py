"""The Dagster storage a CLI refresh records its runs in, when dagster.yaml leaves it at Dagster's
default (SQLite files in $DAGSTER_HOME): the same files, tables and rows, written through one
SQLAlchemy engine per file for the whole process.

Dagster's default event log makes a new engine, and so a new SQLite connection, for every write:
several per event (the run's own file, then the index of assets and checks), about two thousand for
the few hundred events of a small refresh, which made up about a quarter of the CLI process's CPU
(docs/benchmark.md). Dagster makes one per write so that no connection outlives a `fork`; a CLI
refresh forks no process that writes events (dbt runs as a program of its own). Other processes
(`dagster dev`, its daemon, another refresh) read and write the same files as before: SQLite in WAL
mode, and a connection left open between writes holds no lock. Any other storage a dagster.yaml
names (PostgreSQL, per-storage settings) is used as it is configured."""

from __future__ import annotations

import os
from contextlib import contextmanager

from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine

_DEFAULT_STORAGE = (DagsterSqliteStorage.__module__, DagsterSqliteStorage.__name__)


class OneEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, each file's engine made once: its pool keeps the connection."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines = {}  # a shard (a run's id, or the index): its engine
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str):
        # As Dagster's own: one transaction at a time (its lock), the file created on first use.
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engines[shard] = create_engine(
                    self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


class CliSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage (the default of dagster.yaml) with the event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        # where DagsterSqliteStorage keeps its event log: <base_dir>/history/runs/
        self._event_log_storage = OneEngineSqliteEventLogStorage(os.path.join(base_dir, "history", "runs", ""))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> CliSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def with_one_engine_per_file(ref: InstanceRef) -> InstanceRef:
    """`ref` with CliSqliteStorage where its storage is Dagster's default SQLite storage; else `ref`."""
    data = ref.storage_data
    if data is None or (data.module_name, data.class_name) != _DEFAULT_STORAGE:
        return ref
    return ref._replace(storage_data=ConfigurableClassData(__name__, CliSqliteStorage.__name__, data.config_yaml))
