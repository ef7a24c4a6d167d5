"""dbt's Jinja templates compiled once, not in every dbt process (docs/refresh.md, "2. dbt build").

dbt renders every node's SQL and every macro it calls from a Jinja template, and compiles each
template from its text (Jinja's parser and code generator, then Python's `compile`) in every process:
a few hundred templates per `dbt build`, a share of a small build's CPU worth saving (docs/benchmark.md),
the same templates each time. Jinja's own bytecode cache serves only templates loaded by name from a loader; dbt
builds its templates from strings (`Environment.from_string`), so this module keeps what that
compilation gives, a Python code object, for each template text.

`reuse_compiled_templates` puts a cached `get_template` in place of dbt_common's (dbt's Jinja module
imports the same function). It builds the template exactly as `from_string` does, from the code
object that compiling the same text in the same kind of environment gives: the cache is keyed by
the text and the environment class (text or native rendering: their code generators differ), and
the file holds the Python, Jinja and dbt-common versions it was written with (a code object is
specific to the Python version; Jinja's generated code to Jinja's). `save_compiled_templates` writes
the file again when the process compiled templates the file did not have (one file for every dbt
process of the checkout; written to a temporary name and renamed, so that two dbt processes that
end together leave one whole file). A file that cannot be read as such is ignored and rewritten.

Nothing else changes: the template's globals, its rendering and its errors (a template that does
not compile is not cached and raises as before). With `DBT_MACRO_DEBUGGING` (dbt's Jinja debugging,
which compiles templates under names of their own) nothing is cached.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import sys
from pathlib import Path
from types import CodeType

from ..files import replace_file_or_skip

# Imported by assistant-analytics-dbt, whose start is on every refresh's path even when it only hands
# its command to the dbt made ready ahead: what the cache needs beyond this is imported when used.

CACHE_FILE_NAME = "jinja_templates.marshal"  # in the dbt project's target folder
# When the cache holds more templates than this (texts of old project versions pile up), the next
# save keeps only those the saving process used: loading the file costs time per template (the dbt
# made ready ahead loads it while it waits).
MAX_TEMPLATES = 2000
_FORMAT = 1

_codes: dict[str, CodeType] = {}
_used: set[str] = set()
_compiled_here = 0
_in_place = False


def cache_file() -> Path:
    from ..settings import PROJECT_ROOT

    return PROJECT_ROOT / "dbt_project" / "target" / CACHE_FILE_NAME


@functools.cache
def _versions() -> str:
    from importlib import metadata

    return (f"{_FORMAT} {sys.implementation.cache_tag} jinja2={metadata.version('jinja2')} "
            f"dbt-common={metadata.version('dbt-common')}")


def _key(environment_class: type, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{environment_class.__module__}.{environment_class.__qualname__}:{digest}"


def _load(path: Path) -> dict[str, CodeType]:
    try:
        versions, codes = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if versions != _versions() or not isinstance(codes, dict):
        return {}
    return {k: v for k, v in codes.items() if isinstance(k, str) and isinstance(v, CodeType)}


def reuse_compiled_templates(path: Path | None = None) -> None:
    """dbt's templates from the cache file's code objects (cache_file() unless `path`) from now on,
    in this process; a second call does nothing."""
    global _in_place
    import dbt.clients.jinja as dbt_jinja
    import dbt_common.clients.jinja as common_jinja

    if _in_place or getattr(common_jinja, "MACRO_DEBUGGING", None):
        return
    _in_place = True
    _codes.update(_load(path or cache_file()))

    def get_template(string, ctx, node=None, capture_macros=False, native=False):
        global _compiled_here
        with common_jinja.catch_jinja(node):
            environment = common_jinja.get_environment(node, capture_macros, native=native)
            text = str(string)
            key = _key(type(environment), text)
            code = _codes.get(key)
            if code is None:
                code = environment.compile(text)
                _codes[key] = code
                _compiled_here += 1
            _used.add(key)
            # what Environment.from_string does with the code it compiles
            return environment.template_class.from_code(environment, code, environment.make_globals(ctx), None)

    common_jinja.get_template = get_template
    dbt_jinja.get_template = get_template


def save_compiled_templates(path: Path | None = None) -> None:
    """Writes the cache file (cache_file() unless `path`) when this process compiled templates it
    did not hold."""
    if not _compiled_here:
        return
    path = path or cache_file()
    codes = _codes if len(_codes) <= MAX_TEMPLATES else {k: _codes[k] for k in _used}
    # only a cache: where it cannot be written, the next dbt process compiles its templates again
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
    replace_file_or_skip(path, marshal.dumps((_versions(), codes)))
