"""dbt's Jinja templates compiled once (orchestration/build/dbt_templates.py): a template rendered
from the cache file's code gives what dbt's own compilation gives, a process that finds the file
compiles nothing it holds, text and native rendering are kept apart, and a file that is not the
cache's is ignored. Every refresh of the suite runs its dbt with the cache (dbt_child.run_dbt_cli)."""

from __future__ import annotations

import marshal

import dbt.clients.jinja as dbt_jinja
import dbt_common.clients.jinja as common_jinja
import pytest
from dbt_common.exceptions import CompilationError

from orchestration.build import dbt_templates

MACRO = "{% macro greet(name) %}hello {{ name | upper }}{% endmacro %}"
NODE = "select {{ greet('x') }}, {{ n + 1 }} as n{% for i in range(2) %}, {{ i }}{% endfor %}"


@pytest.fixture
def fresh_process(monkeypatch):
    """Each call: the state of a new dbt process (dbt's own get_template, no code held), put back
    after the test."""
    originals = (common_jinja.get_template, dbt_jinja.get_template)
    monkeypatch.setattr(common_jinja, "get_template", originals[0])
    monkeypatch.setattr(dbt_jinja, "get_template", originals[1])

    def start() -> None:
        common_jinja.get_template, dbt_jinja.get_template = originals
        monkeypatch.setattr(dbt_templates, "_codes", {})
        monkeypatch.setattr(dbt_templates, "_used", set())
        monkeypatch.setattr(dbt_templates, "_compiled_here", 0)
        monkeypatch.setattr(dbt_templates, "_in_place", False)

    return start


def rendered(text: str, ctx: dict, native: bool = False):
    """A template rendered as dbt renders a node's SQL (dbt.clients.jinja.get_rendered's path)."""
    return common_jinja.render_template(dbt_jinja.get_template(text, ctx, native=native), ctx)


def context() -> dict:
    macro = common_jinja.get_template(MACRO, {}).module.dbt_macro__greet  # dbt renames macros so
    return {"greet": macro, "n": 41}


def test_a_second_process_renders_from_the_file_without_compiling(fresh_process, tmp_path):
    cache = tmp_path / "templates.marshal"
    fresh_process()
    expected = rendered(NODE, context())  # dbt's own compilation, before any cache
    assert expected == "select hello X, 42 as n, 0, 1"

    dbt_templates.reuse_compiled_templates(cache)
    assert rendered(NODE, context()) == expected
    assert dbt_templates._compiled_here == 2  # the macro's template and the node's
    dbt_templates.save_compiled_templates(cache)
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert cache.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # as any file written here

    fresh_process()
    dbt_templates.reuse_compiled_templates(cache)
    assert rendered(NODE, context()) == expected
    assert dbt_templates._compiled_here == 0
    assert rendered(NODE + " -- edited", context()) == expected + " -- edited"
    assert dbt_templates._compiled_here == 1
    mtime = cache.stat().st_mtime_ns
    dbt_templates.save_compiled_templates(cache)
    assert len(marshal.loads(cache.read_bytes())[1]) == 3 and cache.stat().st_mtime_ns >= mtime


def test_nothing_compiled_here_leaves_the_file_as_it_is(fresh_process, tmp_path):
    cache = tmp_path / "templates.marshal"
    fresh_process()
    dbt_templates.reuse_compiled_templates(cache)
    rendered("{{ 1 }}", {})
    dbt_templates.save_compiled_templates(cache)
    written = cache.read_bytes()
    fresh_process()
    dbt_templates.reuse_compiled_templates(cache)
    rendered("{{ 1 }}", {})
    cache.unlink()
    dbt_templates.save_compiled_templates(cache)
    assert not cache.exists() and written


def test_text_and_native_rendering_are_kept_apart(fresh_process, tmp_path):
    fresh_process()
    dbt_templates.reuse_compiled_templates(tmp_path / "templates.marshal")
    assert rendered("{{ n + 1 }}", {"n": 1}) == "2"
    assert rendered("{{ n + 1 }}", {"n": 1}, native=True) == 2
    assert rendered("{{ n + 1 }}", {"n": 1}) == "2"
    assert dbt_templates._compiled_here == 2


@pytest.mark.parametrize("content", [b"", b"not marshal", marshal.dumps(("0 other versions", {})),
                                     marshal.dumps([1, 2, 3])])
def test_a_file_that_is_not_the_caches_is_ignored_and_written_again(fresh_process, tmp_path, content):
    cache = tmp_path / "templates.marshal"
    cache.write_bytes(content)
    fresh_process()
    dbt_templates.reuse_compiled_templates(cache)
    assert rendered(NODE, context()) == "select hello X, 42 as n, 0, 1"
    assert dbt_templates._compiled_here == 2
    dbt_templates.save_compiled_templates(cache)
    versions, codes = marshal.loads(cache.read_bytes())
    assert versions == dbt_templates._versions() and len(codes) == 2


def test_a_template_that_does_not_compile_raises_as_before_and_is_not_kept(fresh_process, tmp_path):
    fresh_process()
    with pytest.raises(CompilationError) as before:
        rendered("select {{ 1 + }}", {})
    dbt_templates.reuse_compiled_templates(tmp_path / "templates.marshal")
    with pytest.raises(CompilationError) as after:
        rendered("select {{ 1 + }}", {})
    assert str(after.value) == str(before.value)
    assert dbt_templates._codes == {}


def test_past_the_limit_a_save_keeps_only_the_templates_its_process_used(fresh_process, tmp_path, monkeypatch):
    cache = tmp_path / "templates.marshal"
    fresh_process()
    dbt_templates.reuse_compiled_templates(cache)
    for n in range(3):
        rendered(f"select {n} -- {{{{ n }}}}", {"n": n})
    dbt_templates.save_compiled_templates(cache)
    assert len(marshal.loads(cache.read_bytes())[1]) == 3

    fresh_process()
    monkeypatch.setattr(dbt_templates, "MAX_TEMPLATES", 3)
    dbt_templates.reuse_compiled_templates(cache)
    assert rendered("select 0 -- {{ n }}", {"n": 0}) == "select 0 -- 0"  # from the file
    assert rendered("select 9 -- {{ n }}", {"n": 9}) == "select 9 -- 9"  # compiled: four held
    dbt_templates.save_compiled_templates(cache)
    kept = marshal.loads(cache.read_bytes())[1]
    assert len(kept) == 2 and kept.keys() == dbt_templates._used
