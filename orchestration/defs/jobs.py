"""The refresh job: load export days, build the dbt models, publish the serving file."""

from dagster import AssetSelection, define_asset_job

# What started a run, in its tags: the sensor, the schedule, or `assistant-analytics refresh`
TRIGGER_TAG = "trigger"
CLI_TRIGGER = "cli"

refresh_job = define_asset_job(
    name="refresh",
    selection=AssetSelection.all(),
    description="Loads the run's export days, recomputes what they touch with dbt, publishes the warehouse.",
)

rebuild_models_job = define_asset_job(
    name="rebuild_models",
    selection=AssetSelection.all() - AssetSelection.groups("raw"),
    description="dbt build and publish without loading exports (with full_refresh: a rebuild from scratch).",
)
