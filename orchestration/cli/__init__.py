"""The `assistant-analytics` command line: arguments, commands, the refresh run in-process."""
