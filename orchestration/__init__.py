"""assistant-analytics: Dagster definitions and the command line of the analytics warehouse."""
