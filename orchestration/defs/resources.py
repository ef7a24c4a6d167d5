"""Resources, configured from the environment (ANALYTICS_WAREHOUSE, ANALYTICS_EXPORTS)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from packaging.version import Version

from ..build import progress
from ..build.build_file import refresh_lock
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

    @contextlib.contextmanager
    def refresh_lock(self, log: Callable[[str], None]) -> Iterator[None]:
        """The warehouse's refresh lock (build/build_file.py), a wait for another refresh said in the
        run's log (`log`) too: in the UI a run waiting for it showed only as a slow step."""
        with contextlib.ExitStack() as held:
            with progress.also_to(log):
                held.enter_context(refresh_lock(self.warehouse))
            yield


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs that every refresh paid and none uses.

    Before it starts dbt, DbtCliResource.cli runs `dbt --version` (a whole dbt process start, to
    tell dbt Core from the Fusion engine) and builds a dbt adapter in this process (loading the
    profile, the project and dbt's macros) for `fetch_row_counts` / `fetch_column_metadata`, which
    this project does not call. The dbt it runs is this venv's dbt-core (dbt_executable), so its
    version is the installed package's; the adapter is simply not built.
    """

    @property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return Version(installed_version("dbt-core"))
        return super()._cli_version  # a dbt from PATH: ask it, as dagster-dbt does

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        return None


def make_resources() -> dict:
    return {
        "warehouse": WarehouseResource(),
        "dbt": ProjectDbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                                     dbt_executable=dbt_executable()),
    }
