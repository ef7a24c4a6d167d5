"""For sqlfluff's jinja templater only (.sqlfluff library_path): dbt's adapter.dispatch, resolved as
dbt-duckdb resolves it (the macro duckdb__<name>, else default__<name>), so that the linted SQL of a
model that calls a macro of dbt_project/macros/cross_db is the DuckDB SQL dbt runs."""

from jinja2 import pass_context
from jinja2.runtime import Undefined


@pass_context
def dispatch(context, macro_name, macro_namespace=None):
    for candidate in (f"duckdb__{macro_name}", f"default__{macro_name}"):
        macro = context.resolve(candidate)
        if not isinstance(macro, Undefined):
            return macro
    raise KeyError(f"no duckdb__ or default__ implementation of {macro_name}")
