"""The input contract of events.md as SQL: one CASE that names the first reason a line is rejected.

Rules are data so that the contract reads as a table and the SQL is generated once, for either
engine: the DuckDB loader (raw.py) and the Spark one (spark_load.py). What the engines spell
differently is one method per concept of a `Dialect`; everything else the rules use (comparisons,
`in`, `between`, `case`, `try_cast`) both read the same. Each line is parsed by the engine's JSON
functions; nothing here loops over events.
"""

from __future__ import annotations

ENVELOPE_FIELDS = [
    "event_id",
    "event_type",
    "occurred_at",
    "assistant_id",
    "channel",
    "user_id",
    "conversation_id",
]
OPTIONAL_ENVELOPE = ["user_agent"]
ALL_ENVELOPE = ENVELOPE_FIELDS + OPTIONAL_ENVELOPE + ["properties"]

# (property, kind, allowed values or (low, high))
PROPERTY_RULES: dict[str, list[tuple]] = {
    "user_message": [
        ("message_id", "required_string", None),
        ("text", "optional_string", None),
        ("input", "optional_enum", ("text", "voice", "quick_reply")),
    ],
    "bot_message": [
        ("message_id", "required_string", None),
        ("reviewable", "optional_bool", None),
        ("is_fallback", "optional_bool", None),
        ("agent_id", "optional_string", None),
        ("agent_name", "optional_string", None),
        ("agent_kind", "optional_enum", ("agent", "workflow")),
    ],
    "operator_message": [("message_id", "required_string", None)],
    "handover_request": [
        ("via", "required_enum", ("message", "button")),
        ("mode", "required_enum", ("human_takeover", "ticket")),
    ],
    "feedback": [
        ("message_id", "required_string", None),
        ("value", "required_nullable_enum", ("positive", "negative")),
    ],
    "csat": [("score", "required_int_range", (1, 5))],
    "click": [
        ("click_type", "required_enum", ("quick_reply", "link")),
        ("title", "required_string", None),
        ("destination_type", "required_enum", ("answer", "url", "phone", "email")),
        ("destination", "required_string", None),
    ],
    "agent_triggered": [
        ("agent_id", "required_string", None),
        ("agent_name", "optional_string", None),
        ("agent_kind", "required_enum", ("agent", "workflow")),
    ],
}
PROPERTY_NAMES = sorted({name for rules in PROPERTY_RULES.values() for name, _, _ in rules})

# RFC 3339 date-time with a mandatory offset (hours 00-23, minutes 00-59, as for the time of day);
# the parse afterwards rejects impossible dates. A whole-text pattern: `Dialect.full_match` anchors it.
RFC3339 = (r"\d{4}-\d{2}-\d{2}[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
           r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)")
# A blank line (nothing, or spaces, tabs and a CR) is not a line: neither read nor rejected.
BLANK_LINE = r"[ \t\r]*"


class Dialect:
    """What the rules and the line extraction need that the engines spell differently.

    events.md: an event that occurred "more than one day after the end of its export day (UTC)" is
    rejected. The day ends at 00:00 UTC of the next day, so the latest valid instant is 00:00 UTC
    two days after the export day; exactly that instant is still valid. Computed in SQL from the
    query parameter `export_day` (a DATE): DuckDB's timestamps reach far beyond year 9999, Python's
    do not.
    """

    name: str

    def full_match(self, text: str, pattern: str) -> str:
        """True when the whole of `text` matches the regular expression (no quote in `pattern`)."""
        raise NotImplementedError

    def latest_occurred_at(self) -> str:
        """The latest valid occurred_at of the lines of export day `export_day`, an instant."""
        raise NotImplementedError


class DuckDBDialect(Dialect):
    name = "duckdb"

    def full_match(self, text: str, pattern: str) -> str:
        return f"regexp_full_match({text}, '{pattern}')"

    def latest_occurred_at(self) -> str:
        return "timezone('UTC', ($export_day::date + 2)::timestamp)"


# schema_of_variant's type names (up to the first non-letter) as the rules name JSON types
_SPARK_JSON_TYPES = {
    "STRING": "VARCHAR", "VOID": "NULL", "BOOLEAN": "BOOLEAN", "OBJECT": "OBJECT", "ARRAY": "ARRAY",
    "BIGINT": "BIGINT", "INT": "BIGINT", "SMALLINT": "BIGINT", "TINYINT": "BIGINT",
    "DECIMAL": "DOUBLE", "DOUBLE": "DOUBLE", "FLOAT": "DOUBLE",
}


class SparkDialect(Dialect):
    """Spark SQL (4.x). Its string literals read backslashes as escapes, so patterns go in raw
    literals (r'...'); Java's `$` also matches before a final line break, so the end is `\\z`."""

    name = "spark"

    def full_match(self, text: str, pattern: str) -> str:
        return f"({text} rlike r'^(?:{pattern})\\z')"

    def latest_occurred_at(self) -> str:
        # in whole seconds since the epoch: no time zone, session or otherwise, takes part
        return "timestamp_seconds((cast(unix_date(:export_day) as bigint) + 2) * 86400)"

    def json_type(self, variant: str) -> str:
        """The JSON type of a VARIANT value under DuckDB's json_type names, the rules' vocabulary:
        VARCHAR, BOOLEAN, OBJECT, ARRAY, NULL (a JSON null), BIGINT (an integer that fits), DOUBLE
        (any other number; parse_json makes 3.0 a DECIMAL, DuckDB a DOUBLE); SQL NULL when absent."""
        whens = " ".join(f"when '{spark}' then '{rules}'" for spark, rules in _SPARK_JSON_TYPES.items())
        return f"case regexp_extract(schema_of_variant({variant}), '^[A-Z]+', 0) {whens} end"

    def parse_instant(self, text: str) -> str:
        """An RFC 3339 text (matched by RFC3339 beforehand) as an instant; NULL if the date or time is
        impossible. The offset is applied by hand: Spark's own parse refuses offsets beyond 18:00,
        which RFC 3339 allows (up to 23:59) and DuckDB reads."""
        offset = r"[+-]\d\d:\d\d"
        minutes = (f"case when {text} rlike r'{offset}\\z' then "
                   f"(case when substr({text}, -6, 1) = '-' then -1 else 1 end) "
                   f"* (cast(substr({text}, -5, 2) as int) * 60 + cast(substr({text}, -2, 2) as int)) else 0 end")
        as_utc = f"try_cast(regexp_replace(upper({text}), r'(Z|{offset})\\z', 'Z') as timestamp)"
        return f"({as_utc} - make_dt_interval(0, 0, {minutes}, 0))"


DUCKDB = DuckDBDialect()
SPARK = SparkDialect()


def _sql_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# Each value is read as two columns: t_<name>, its JSON type (SQL NULL when the key is absent), and
# s_<name>, its text. A JSON null counts as absent: the key carries nothing.
def _absent(name: str) -> str:
    return f"(t_{name} is null or t_{name} = 'NULL')"


def _property_checks(event_type: str, name: str, kind: str, arg) -> list[tuple[str, str]]:
    col = f"p_{name}"
    t, v = f"t_{col}", f"s_{col}"
    label = f"{event_type}.{name}"
    if kind == "required_string":
        return [
            (_absent(col), f"missing_property:{label}"),
            (f"{t} <> 'VARCHAR'", f"wrong_type:{label}"),
            (f"{v} = ''", f"empty_property:{label}"),
        ]
    if kind == "optional_string":
        return [(f"not {_absent(col)} and {t} <> 'VARCHAR'", f"wrong_type:{label}")]
    if kind == "optional_bool":
        return [(f"not {_absent(col)} and {t} <> 'BOOLEAN'", f"wrong_type:{label}")]
    if kind == "optional_enum":
        return [
            (
                f"not {_absent(col)} and ({t} <> 'VARCHAR' or {v} not in {_sql_list(arg)})",
                f"invalid_value:{label}",
            )
        ]
    if kind == "required_enum":
        return [
            (_absent(col), f"missing_property:{label}"),
            (f"{t} <> 'VARCHAR' or {v} not in {_sql_list(arg)}", f"invalid_value:{label}"),
        ]
    if kind == "required_nullable_enum":
        # The key must be there; its value may be null (a retracted rating).
        return [
            (f"{t} is null", f"missing_property:{label}"),
            (
                f"{t} <> 'NULL' and ({t} <> 'VARCHAR' or {v} not in {_sql_list(arg)})",
                f"invalid_value:{label}",
            ),
        ]
    if kind == "required_int_range":
        low, high = arg
        return [
            (_absent(col), f"missing_property:{label}"),
            (
                # an integer beyond BIGINT (DuckDB: UBIGINT) casts to NULL: outside the range too
                f"{t} not in ('UBIGINT', 'BIGINT') "
                f"or not coalesce(try_cast({v} as bigint) between {low} and {high}, false)",
                f"invalid_value:{label}",
            ),
        ]
    raise ValueError(kind)


def _property_passes(name: str, kind: str, arg) -> str:
    """True only when no check of `_property_checks` can fire (NULL counts as not passing)."""
    t, v = f"t_p_{name}", f"s_p_{name}"
    if kind == "required_string":
        return f"{t} = 'VARCHAR' and {v} <> ''"
    if kind in ("optional_string", "optional_bool"):
        json_type = "VARCHAR" if kind == "optional_string" else "BOOLEAN"
        return f"({t} is null or {t} in ('{json_type}', 'NULL'))"
    if kind == "optional_enum":
        return f"({t} is null or {t} = 'NULL' or ({t} = 'VARCHAR' and {v} in {_sql_list(arg)}))"
    if kind == "required_enum":
        return f"{t} = 'VARCHAR' and {v} in {_sql_list(arg)}"
    if kind == "required_nullable_enum":
        return f"({t} = 'NULL' or ({t} = 'VARCHAR' and {v} in {_sql_list(arg)}))"
    if kind == "required_int_range":
        low, high = arg
        return f"{t} in ('UBIGINT', 'BIGINT') and try_cast({v} as bigint) between {low} and {high}"
    raise ValueError(kind)


def _passes_sql(dialect: Dialect) -> str:
    """A condition that holds only for lines none of the reasons below applies to.

    Most lines are valid: this settles them with a few comparisons, and only the others walk the
    long CASE that names the first reason. tests/test_validation.py holds it to the CASE.
    """
    parts = ["not damaged_gzip", "not invalid_utf8", "is_json", "top_type = 'OBJECT'"]
    parts += [f"t_e_{f} = 'VARCHAR' and s_e_{f} <> ''" for f in ENVELOPE_FIELDS]
    parts += [
        "(t_e_user_agent is null or t_e_user_agent in ('VARCHAR', 'NULL'))",
        dialect.full_match("s_e_occurred_at", RFC3339),
        "occurred_at is not null",
        f"occurred_at <= {dialect.latest_occurred_at()}",
        "(t_e_properties is null or t_e_properties in ('OBJECT', 'NULL'))",
    ]
    by_type = "\n".join(
        f"            when '{event_type}' then "
        + " and ".join(_property_passes(name, kind, arg) for name, kind, arg in rules)
        for event_type, rules in PROPERTY_RULES.items()
    )
    parts.append(f"case s_e_event_type\n{by_type}\n            else true end")
    return "\n        and ".join(parts)


def reason_case_sql(*, fast_exit: bool = True, dialect: Dialect = DUCKDB) -> str:
    """A CASE over the columns of `extracted_lines_sql` (or `spark_extracted_lines_sql`) naming the
    reason, or NULL for a valid line.

    It needs the query parameter `export_day` (a DATE): the day the lines were exported.
    """
    whens: list[tuple[str, str]] = [
        # a line of a gzip member whose check (CRC or length) failed: its bytes may not be what was
        # written, whatever it reads as (raw.py `_read_gzip`)
        ("damaged_gzip", "damaged_gzip_member"),
        ("invalid_utf8", "invalid_utf8"),
        ("not is_json", "invalid_json"),
        ("top_type <> 'OBJECT'", "not_an_object"),
    ]
    for f in ENVELOPE_FIELDS:
        whens += [
            (_absent(f"e_{f}"), f"missing_field:{f}"),
            (f"t_e_{f} <> 'VARCHAR'", f"wrong_type:{f}"),
            (f"s_e_{f} = ''", f"empty_field:{f}"),
        ]
    whens += [
        (f"not {_absent('e_user_agent')} and t_e_user_agent <> 'VARCHAR'", "wrong_type:user_agent"),
        (f"not {dialect.full_match('s_e_occurred_at', RFC3339)}", "invalid_timestamp"),
        ("occurred_at is null", "invalid_timestamp"),
        (f"occurred_at > {dialect.latest_occurred_at()}", "occurred_in_future"),
        (f"not {_absent('e_properties')} and t_e_properties <> 'OBJECT'", "wrong_type:properties"),
    ]
    for event_type, rules in PROPERTY_RULES.items():
        for name, kind, arg in rules:
            for cond, reason in _property_checks(event_type, name, kind, arg):
                whens.append((f"s_e_event_type = '{event_type}' and ({cond})", reason))
    body = "\n".join(f"        when {cond} then '{reason}'" for cond, reason in whens)
    first = f"        when {_passes_sql(dialect)} then null\n" if fast_exit else ""
    return f"case\n{first}{body}\n        else null\n    end"


def _paths() -> list[tuple[str, str]]:
    """(column suffix, JSON path) of every value the contract looks at."""
    out = [(f"e_{f}", f'$."{f}"') for f in ALL_ENVELOPE]
    out += [(f"p_{p}", f'$."properties"."{p}"') for p in PROPERTY_NAMES]
    return out


# RE2 patterns (no quote in them: they go into the SQL text as literals)
_TRAILING_COMMA = r",[ \t\r\n]*[}\]]"
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
# outside its strings JSON has no letters but those of true, false, null and an exponent's e
_NOT_JSON_OUTSIDE_STRINGS = r"(?i),[ \t\r\n]*[}\]]|nan|inf"
# A string may escape half of a UTF-16 surrogate pair alone (RFC 8259 section 7: `\ud83d` with no
# `\ude00` after it, as a producer writes a text cut in the middle of an emoji); both engines'
# parsers refuse such a line. Each lone half is kept as the six characters of its escape (the line
# gets `\\ud83d`), as bytes that are not UTF-8 are kept as `\xNN`, and the line is JSON. Matched
# left to right: an escaped backslash (group 1) and a whole pair (group 2) stay as they are, a lone
# half (groups 3, 4) gets a second backslash. Only lines that did not parse are rewritten.
_ESCAPES_WITH_LONE_SURROGATES = (r"(\\\\)|(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                                 r"|(\\)(u[dD][89a-fA-F][0-9a-fA-F]{2})")


def extracted_lines_sql(lines_table: str) -> str:
    """Parses each line a few times in all (validity, types, texts), whatever the number of fields.

    `lines_table` has the columns file_name, line_number, line, invalid_utf8 (the line's bytes
    were not UTF-8; its text shows them escaped) and damaged_gzip (its gzip member's check failed).
    """
    paths = _paths()
    path_list = "['$', " + ", ".join(f"'{p}'" for _, p in paths) + "]"
    text_list = "[" + ", ".join(f"'{p}'" for _, p in paths) + "]"
    cols = ",\n        ".join(
        f"types[{i + 2}] as t_{c}, texts[{i + 1}] as s_{c}" for i, (c, _) in enumerate(paths)
    )
    # Two parses of each line: its types (the line's own first; `try` turns the error that a line
    # which is not JSON raises into NULL) and its values' texts, only for the lines that are JSON.
    # DuckDB's parser (yyjson) also reads what JSON does not have: a comma before `}` or `]`, and
    # NaN or Infinity (any case) as a number. Such a line is not JSON (events.md: invalid_json). A
    # cheap sign of either (the comma in the text; a floating-point value anywhere in the line)
    # picks the few lines to look at closely: outside their strings, where the sign may be text.
    # `json_line` is the line as parsed: the line itself, or for a line that did not parse, the line
    # with its lone surrogate escapes kept as text (_ESCAPES_WITH_LONE_SURROGATES).
    return f"""
    with first_parse as (
        select file_name, line_number, line, invalid_utf8, damaged_gzip, try(json_type(line, {path_list})) as types
        from {lines_table}
    ),
    surrogates_kept as (
        select file_name, line_number, line, invalid_utf8, damaged_gzip, types,
            case
                when types is null then regexp_replace(line, '{_ESCAPES_WITH_LONE_SURROGATES}', '\\1\\2\\3\\3\\4', 'g')
                else line
            end as json_line
        from first_parse
    ),
    src as (
        select file_name, line_number, line, invalid_utf8, damaged_gzip, json_line,
            coalesce(types, try(json_type(json_line, {path_list}))) as types
        from surrogates_kept
    ),
    parsed as (
        select file_name, line_number, line, invalid_utf8, damaged_gzip, types,
            case
                when types is null then false
                -- a CASE, so that only the lines with a sign are looked at closely
                when regexp_matches(json_line, '{_TRAILING_COMMA}') or types[1] = 'DOUBLE'
                    or list_contains(json_type(json_line, '$..*'), 'DOUBLE')
                    then not regexp_matches(regexp_replace(json_line, '{_JSON_STRING}', '""', 'g'),
                                            '{_NOT_JSON_OUTSIDE_STRINGS}')
                else true
            end as is_json,
            types[1] as top_type,
            case when types is not null then json_extract_string(json_line, {text_list}) end as texts
        from src
    )
    select file_name, line_number, line, invalid_utf8, damaged_gzip, is_json, top_type,
        {cols},
        -- the timestamp, parsed once for the check and the load (NULL when it is not one)
        try_cast(upper(texts[{1 + [c for c, _ in paths].index("e_occurred_at")}]) as timestamptz) as occurred_at
    from parsed
    """


def spark_extracted_lines_sql(lines_view: str) -> str:
    """The columns of `extracted_lines_sql`, in Spark SQL: each line parsed once into a VARIANT
    (`try_parse_json`: NULL when the line is not JSON), each value's type and text read from it.

    `try_parse_json` reads a line's first value and passes over whatever follows it (`{...} x`,
    `{...}{}`), which is not JSON (RFC 8259: a JSON text is one value; DuckDB's parser refuses it).
    So a line is JSON only if it also parses inside `[...]` and inside `{"_": ...}`: text after its
    first value would have to start with `]` for the one and with `}` for the other, so only blanks
    can follow it in both.

    `lines_view` has the columns file_name, line_number, line, invalid_utf8 and damaged_gzip.
    """
    cols = ",\n        ".join(
        f"{SPARK.json_type(f'variant_get(v, {path!r})')} as t_{c}, try_variant_get(v, {path!r}, 'string') as s_{c}"
        for c, path in _spark_paths()
    )
    occurred_at = SPARK.parse_instant("try_variant_get(v, '$.occurred_at', 'string')")
    surrogates_kept = f"regexp_replace(line, r'{_ESCAPES_WITH_LONE_SURROGATES}', '$1$2$3$3$4')"
    # a line that did not parse is parsed again with its lone surrogate escapes kept as text, as on DuckDB
    return f"""
    select file_name, line_number, line, invalid_utf8, damaged_gzip, v is not null as is_json,
        {SPARK.json_type("v")} as top_type,
        {cols},
        {occurred_at} as occurred_at
    from (
        select file_name, line_number, line, invalid_utf8, damaged_gzip,
            coalesce({_spark_json_value("line")}, {_spark_json_value(surrogates_kept)}) as v
        from {lines_view}
    )
    """


def _spark_json_value(text: str) -> str:
    """`text` parsed into a VARIANT when it is one JSON value and nothing after it, else NULL
    (spark_extracted_lines_sql says why the two wrapped parses)."""
    return (f"case when try_parse_json('[' || {text} || ']') is not null "
            f"and try_parse_json('{{\"_\": ' || {text} || '}}') is not null then try_parse_json({text}) end")


def _spark_paths() -> list[tuple[str, str]]:
    """`_paths()` as Spark's JSON paths (the names are plain identifiers: no quoting needed)."""
    out = [(f"e_{f}", f"$.{f}") for f in ALL_ENVELOPE]
    out += [(f"p_{p}", f"$.properties.{p}") for p in PROPERTY_NAMES]
    return out
