"""dagster-dbt imported without importing dbt-core into the process that imports it.

dagster-dbt imports dbt-core at its own import when it can (`dagster_dbt.compat`): seconds of every
refresh's start (the CLI) and of every load of the definitions (`dagster dev`'s code server). This
project never runs dbt in that process: dbt runs as `assistant-analytics-dbt`, a process of its own
(dbt_child.py). Without dbt-core, dagster-dbt works as it does beside the dbt Fusion engine:
dbt's node types and statuses as its own string enums (compared with the strings of dbt's events,
as with dbt-core's), the default selection read from the manifest; the dbt version it would ask a
process for comes from ProjectDbtCliResource (the installed package's). What it cannot do without
dbt-core (`fetch_row_counts`, `fetch_column_metadata`, a dbt selection string in `@dbt_assets`) this
project does not use; tests/test_dbt_resource.py checks the asset graph against dbt-core's.
"""

from __future__ import annotations

import importlib
import sys

_PROBE = "dbt.version"  # what dagster_dbt.compat imports to find dbt-core


def import_dagster_dbt_without_dbt_core() -> None:
    """Imports dagster_dbt with dbt-core hidden from it; after, dbt imports as usual. Call it before
    the process's first `import dagster_dbt`; a no-op once dagster_dbt or dbt-core is imported."""
    if "dagster_dbt" in sys.modules or _PROBE in sys.modules:
        return
    sys.modules[_PROBE] = None  # an import of it raises ImportError, as without dbt-core
    try:
        importlib.import_module("dagster_dbt")
    finally:
        if sys.modules.get(_PROBE, False) is None:
            del sys.modules[_PROBE]
