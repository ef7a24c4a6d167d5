"""Where things live, read from the environment (interfaces.md defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def default_warehouse() -> Path:
    return Path(os.environ.get("ANALYTICS_WAREHOUSE", "data/warehouse.duckdb")).resolve()


def default_exports() -> Path:
    return Path(os.environ.get("ANALYTICS_EXPORTS", "data/exports")).resolve()


def build_path_for(warehouse: Path) -> Path:
    """The private file a refresh writes; readers only ever see `warehouse`."""
    return warehouse.with_name(f".{warehouse.stem}.build{warehouse.suffix}")


@dataclass(frozen=True)
class DuckDBLimits:
    memory_limit: str | None
    threads: int | None

    @classmethod
    def from_env(cls) -> "DuckDBLimits":
        threads = os.environ.get("ANALYTICS_DUCKDB_THREADS")
        return cls(
            memory_limit=os.environ.get("ANALYTICS_DUCKDB_MEMORY_LIMIT") or None,
            threads=int(threads) if threads else None,
        )

    def settings_sql(self) -> list[str]:
        out = []
        if self.memory_limit:
            out.append(f"set memory_limit = '{self.memory_limit}'")
        if self.threads:
            out.append(f"set threads = {int(self.threads)}")
        return out
