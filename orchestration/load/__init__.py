"""Stage 1, load: export files into the raw schema of the build file (rejects kept with a reason)."""
