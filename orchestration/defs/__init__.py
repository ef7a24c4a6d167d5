"""Dagster wiring: assets, asset checks, jobs, partitions, resources, schedules and sensors."""

from ..build.dagster_dbt_import import import_dagster_dbt_without_dbt_core

import_dagster_dbt_without_dbt_core()  # before the first `from dagster_dbt import` of these modules
