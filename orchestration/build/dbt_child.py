"""`assistant-analytics-dbt`: dbt, bound to the process that starts it (dagster-dbt's dbt_executable).

A refresh runs dbt as a child process, which ends with the refresh's (child_process.end_with_parent).
When the refresh has made a dbt ready ahead (warm_dbt.py, `--wait-for-build`), this process hands
it the command and waits for it instead of importing dbt itself; the process made ready ahead runs
the refresh's Spark loads too, before its build (`wait_for_build`).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from . import warm_dbt
from .child_process import end_with_parent, interruptible, stdout_kept_from_children
from .dbt_log_lines import build_only_written_lines
from .dbt_templates import reuse_compiled_templates, save_compiled_templates
from .gc_tuning import freeze_what_lives_until_exit, long_lived_set_up
from .spark_session import end_spark_jvm


def _freeze_the_parsed_project(event) -> None:
    """dbt says how many threads it runs the nodes on once the project is parsed and its graph
    compiled, before the first node: those live until the process ends (gc_tuning.py)."""
    if event.info.name == "ConcurrencyLine":
        freeze_what_lives_until_exit()


_freeze_the_parsed_project.takes_debug_events = False  # dbt_log_lines.py


def run_dbt_cli(argv: list[str]) -> int:
    """dbt's own command line on `argv`; its exit status."""
    with long_lived_set_up():
        from dbt.cli.main import cli
    build_only_written_lines()
    reuse_compiled_templates()
    try:
        cli.main(args=argv, prog_name="dbt", obj={"callbacks": [_freeze_the_parsed_project]})
    except SystemExit as done:  # click ends the command this way, with dbt's status
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        save_compiled_templates()
    return 0


def in_build_file_folder(argv: list[str]) -> tuple[Path | None, list[str]]:
    """The folder to run dbt in, and `argv` with the build file (var build_file, an absolute path)
    named relative to it; (None, `argv`) when `argv` names no build file that way.

    dbt parses the whole project again when its vars or its profile (the file's path is in both)
    differ from those of the parse it kept (partial_parse.msgpack). Named by its file name alone,
    every warehouse of the same name gives dbt the same vars and profile, so the first refresh of a
    new warehouse takes up the project's own parse (`ensure_manifest`, with that same name), which
    dagster-dbt copies into the refresh's target folder, and parses only what changed."""
    if "--vars" not in argv[:-1]:
        return None, argv
    at = argv.index("--vars") + 1
    try:
        dbt_vars = json.loads(argv[at])
    except ValueError:
        return None, argv  # dbt reports it
    build_file = dbt_vars.get("build_file") if isinstance(dbt_vars, dict) else None
    if not isinstance(build_file, str) or not Path(build_file).is_absolute():
        return None, argv
    named = json.dumps({**dbt_vars, "build_file": Path(build_file).name})
    return Path(build_file).parent, [*argv[:at], named, *argv[at + 1:]]


def _run_spark_load(handed: warm_dbt.Handed) -> bool:
    """A Spark load handed over (spark_job.py), run here with the caller's streams: its Spark
    stays, for dbt's Spark target in the build that follows (one JVM per run, not two). False if
    it failed other than with a load error (its traceback on the caller's stderr)."""
    from .spark_job import load_in_this_process

    with handed.streams_lent():
        try:
            load_in_this_process(handed.argv)
            status = 0
        except Exception:
            traceback.print_exc()
            status = 1
    if status != 0:
        end_spark_jvm()  # this process ends next
    handed.finish(status)
    return status == 0


def _build_validation_schemas() -> None:
    """dbt checks the profile and its credentials, the project and its flags (and each test's result)
    against JSON schemas that it builds from their dataclasses on first use, cached per class for the
    process: tenths of a second each at the start of every dbt command, built here ahead, while the
    refresh still loads."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.contracts.project import Configuration, PackageConfig, ProfileConfig, Project, ProjectFlags
    from dbt.contracts.selection import SelectorFile
    from dbt.task.test import TestResultData

    for validated in (ProjectFlags, DuckDBCredentials, ProfileConfig, Project, PackageConfig, SelectorFile,
                      Configuration, TestResultData):
        validated.json_schema()


def wait_for_build() -> int:
    """The dbt a refresh makes ready ahead (warm_dbt.py): imports dbt, runs the Spark loads handed
    over, then takes one build and runs it."""
    listener = warm_dbt.listen()
    with long_lived_set_up():
        # the default target's adapter too, and what `dbt build` would import only once handed its
        # command (its task, the test runner's table diffing, agate's helpers)
        import dbt.adapters.duckdb  # noqa: F401
        import dbt.cli.main  # noqa: F401
        import dbt.task.build  # noqa: F401
        import dbt_common.clients.agate_helper  # noqa: F401

        _build_validation_schemas()
        reuse_compiled_templates()  # the cache file read now, not once the build is handed over
    while (handed := warm_dbt.Handed(listener)).kind == warm_dbt.SPARK_LOAD:
        if not _run_spark_load(handed):
            return 1  # in an unknown state: a build runs dbt in a process of its own
    listener.close()
    handed.take_streams()
    sys.stdout = stdout_kept_from_children()
    status = run_dbt_cli(handed.argv)
    end_spark_jvm()  # the run's Spark, if any: ended before the run ends
    handed.finish(status)
    return status


def main() -> None:
    end_with_parent()
    interruptible()
    if sys.argv[1:] == [warm_dbt.WAIT_FOR_BUILD]:
        sys.exit(wait_for_build())
    folder, argv = in_build_file_folder(sys.argv[1:])
    if folder is not None:
        os.chdir(folder)  # before the hand-over, which passes the working directory on
    # the dbt that the refresh made ready ahead, when there is one; else dbt runs here
    status = warm_dbt.hand_over(argv)
    if status is None:
        sys.stdout = stdout_kept_from_children()
        status = run_dbt_cli(argv)
    sys.exit(status)


if __name__ == "__main__":
    main()
