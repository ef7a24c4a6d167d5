"""Dagster wiring: assets, asset checks, jobs, partitions, resources, schedules and sensors."""
