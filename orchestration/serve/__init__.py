"""Stage 4, serve: what readers get from the published file (report, export, dashboard, status)."""
