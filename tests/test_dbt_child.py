"""`assistant-analytics-dbt` runs a refresh's dbt in the build file's folder, the build file named
by its name alone (orchestration/build/dbt_child.py `in_build_file_folder`), so that dbt's vars and
profile are the same for every warehouse of that name. The effect on dbt's parsing, through real
refreshes: tests/test_dbt_partial_parse.py."""

from __future__ import annotations

import json

from orchestration.build.dbt_child import in_build_file_folder


def test_an_absolute_build_file_becomes_its_name_and_its_folder_the_working_directory():
    argv = ["build", "--vars", json.dumps({"build_file": "/srv/wh/.warehouse.build.duckdb"}), "--threads", "1"]
    folder, named = in_build_file_folder(argv)
    assert str(folder) == "/srv/wh"
    assert named[:2] == ["build", "--vars"] and named[3:] == ["--threads", "1"]
    assert json.loads(named[2]) == {"build_file": ".warehouse.build.duckdb"}


def test_the_other_vars_are_kept():
    argv = ["build", "--vars", json.dumps({"build_file": "/a/b.duckdb", "test_scope": "all"})]
    _, named = in_build_file_folder(argv)
    assert json.loads(named[2]) == {"build_file": "b.duckdb", "test_scope": "all"}


def test_a_command_without_an_absolute_build_file_is_left_as_it_is():
    for argv in (
        ["parse", "--vars", json.dumps({"build_file": ".warehouse.build.duckdb"})],  # ensure_manifest's
        ["build", "--target", "spark", "--vars", json.dumps({"spark_dir": "/a/w.duckdb.spark"})],
        ["build", "--vars", "{build_file: /a/b.duckdb}"],  # YAML, not JSON: not the refresh's
        ["build", "--vars", json.dumps(["/a/b.duckdb"])],
        ["build", "--vars"],
        ["--version"],
    ):
        assert in_build_file_folder(argv) == (None, argv)
