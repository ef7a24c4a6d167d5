"""The Dagster storage a CLI refresh records its runs in, when dagster.yaml leaves it at Dagster's
default, its SQLite files (no `storage` named, or `storage: sqlite`): the same files, tables and
rows, written through a connection kept open per file rather than one opened for every write.

Dagster's default event log makes a new engine, and so a new SQLite connection, for every write:
several per event (the run's own file, then the index of assets and checks), about two thousand for
the few hundred events of a small refresh (docs/benchmark.md, 2026-12-07, 22:00). Here the index's
connection stays open for the process and a run's until the next run's file is opened; `dispose`
(the CLI's at the refresh's end) closes them, and with the last connection to a file SQLite merges
its write-ahead log into it, as Dagster's own closing does after each write. Other processes
(`dagster dev`, its daemon, another refresh) read and write the same files meanwhile: in SQLite's
WAL mode a connection between transactions holds no read or write lock (it only keeps the file from
leaving WAL mode). The run storage (history/runs.db) is Dagster's own, unchanged. Any other storage
a dagster.yaml names (PostgreSQL, per-storage settings) is used as it is configured.

This overrides a private method of Dagster's (`_connect`, whose body it follows, Dagster 1.13):
tests/test_dagster.py pins that method's source, so that an upgrade which changes it is read again."""

from __future__ import annotations

from contextlib import contextmanager

from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine

_DEFAULT_STORAGE = (DagsterSqliteStorage.__module__, DagsterSqliteStorage.__name__)


class KeptConnectionSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, each file's engine made once, its one connection kept in its pool."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines = {}  # a shard (the index, a run's id): its engine
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str):
        # As Dagster's own: one transaction at a time (its lock), the file set up on its first use.
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                if shard != INDEX_SHARD_NAME:
                    # runs follow one another in a CLI process: a new run's file ends the last one's use
                    for done in [s for s in self._engines if s != INDEX_SHARD_NAME]:
                        self._engines.pop(done).dispose()
                # one connection kept; the second that setting a file up opens meanwhile is closed
                engine = self._engines[shard] = create_engine(
                    self.conn_string_for_shard(shard), pool_size=1, max_overflow=1,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class CliSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage (dagster.yaml's default) with the event log above, in the same folder.
    Only the CLI's process uses it: its instance's ref goes to no other process."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = KeptConnectionSqliteEventLogStorage(self._event_log_storage._base_dir)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> CliSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def with_kept_connections(ref: InstanceRef) -> InstanceRef:
    """`ref` with CliSqliteStorage where its storage is Dagster's default SQLite storage; else `ref`."""
    data = ref.storage_data
    if data is None or (data.module_name, data.class_name) != _DEFAULT_STORAGE:
        return ref
    return ref._replace(storage_data=ConfigurableClassData(__name__, CliSqliteStorage.__name__, data.config_yaml))
