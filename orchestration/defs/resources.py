"""Resources, configured from the environment (ANALYTICS_WAREHOUSE, ANALYTICS_EXPORTS)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from ..build.dbt_project import dbt_executable, dbt_project
from ..settings import build_path_for, default_exports, default_warehouse


class WarehouseResource(ConfigurableResource):
    """Where the published warehouse and the exports live; empty means the environment's default."""

    warehouse_path: str = ""
    exports_dir: str = ""

    @property
    def warehouse(self) -> Path:
        return Path(self.warehouse_path).resolve() if self.warehouse_path else default_warehouse()

    @property
    def exports(self) -> Path:
        return Path(self.exports_dir).resolve() if self.exports_dir else default_exports()

    @property
    def build_file(self) -> Path:
        return build_path_for(self.warehouse)


def make_resources() -> dict:
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                              dbt_executable=dbt_executable()),
    }
