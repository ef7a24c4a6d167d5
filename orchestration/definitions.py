"""The one Definitions of the code location (`[tool.dagster] module_name` in pyproject.toml)."""

from dagster import Definitions

from .build.dbt_project import ensure_manifest
from .settings import check_refresh_settings

# A bad setting stops the code location's load with its one line, as the cron and the sensor's
# interval do where Dagster reads them: not a run that has loaded its day (the refresh's settings),
# nor a sensor's or a check's evaluation (theirs). check_refresh_settings checks both kinds.
check_refresh_settings()

# The dbt assets read the manifest at import: build it when missing or older than the project
# (a fresh clone, `dagster definitions validate`, a model edited under `dagster dev`).
ensure_manifest()

from .defs.assets import published_warehouse, raw_exports, warehouse_dbt_models
from .defs.checks import raw_checks
from .defs.jobs import rebuild_models_job, refresh_job
from .defs.resources import make_resources
from .defs.schedules import nightly_refresh
from .defs.sensors import RUN_RECORD_SENSORS, fail_runs_whose_process_is_gone, new_or_redelivered_export_days

defs = Definitions(
    assets=[raw_exports, warehouse_dbt_models, published_warehouse],
    asset_checks=raw_checks,
    jobs=[refresh_job, rebuild_models_job],
    schedules=[nightly_refresh],
    sensors=[new_or_redelivered_export_days, *RUN_RECORD_SENSORS, fail_runs_whose_process_is_gone],
    resources=make_resources(),
)
