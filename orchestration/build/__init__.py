"""Stage 2, build: dbt on the private build file (its lock, its state, dbt's process and progress)."""
