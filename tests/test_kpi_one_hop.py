"""Each mart's YAML names the report query that reads it, and every report query is named by a mart."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MARTS = REPO / "dbt_project" / "models" / "marts"
QUERIES = REPO / "orchestration" / "serve" / "queries"


def _report_queries() -> dict[str, str]:
    named = {}
    for path in sorted(MARTS.glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            query = (model.get("meta") or {}).get("report_query")
            if query:
                named[model["name"]] = query
    return named


def test_every_named_report_query_exists():
    named = _report_queries()
    assert named, "no mart names its report query"
    missing = {mart: query for mart, query in named.items() if not (REPO / query).is_file()}
    assert not missing


def test_every_report_query_reads_a_mart_that_names_it():
    named = set(_report_queries().values())
    # report.sql puts the per-mart parts together and ratio.sql is the ratios' macro: they read no mart
    parts = {f"orchestration/serve/queries/{p.name}" for p in QUERIES.glob("*.sql")
             if p.name not in ("report.sql", "ratio.sql")}
    assert parts - named == set()
