"""The input contract of events.md as SQL: one CASE that names the first reason a line is rejected.

Rules are data so that the contract reads as a table and the SQL is generated once.
Each line is parsed by DuckDB's JSON functions; nothing here loops over events.
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
KNOWN_EVENT_TYPES = tuple(PROPERTY_RULES)
PROPERTY_NAMES = sorted({name for rules in PROPERTY_RULES.values() for name, _, _ in rules})

# RFC 3339 date-time with a mandatory offset; the cast afterwards rejects impossible dates.
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"


def _sql_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _absent(x: str) -> str:
    # A JSON null counts as absent: the key carries nothing.
    return f"({x} is null or json_type({x}) = 'NULL')"


def _property_checks(event_type: str, name: str, kind: str, arg) -> list[tuple[str, str]]:
    x = f"p_{name}"
    label = f"{event_type}.{name}"
    val = f"({x} ->> '$')"
    if kind == "required_string":
        return [
            (_absent(x), f"missing_property:{label}"),
            (f"json_type({x}) <> 'VARCHAR'", f"wrong_type:{label}"),
            (f"{val} = ''", f"empty_property:{label}"),
        ]
    if kind == "optional_string":
        return [(f"not {_absent(x)} and json_type({x}) <> 'VARCHAR'", f"wrong_type:{label}")]
    if kind == "optional_bool":
        return [(f"not {_absent(x)} and json_type({x}) <> 'BOOLEAN'", f"wrong_type:{label}")]
    if kind == "optional_enum":
        return [
            (
                f"not {_absent(x)} and (json_type({x}) <> 'VARCHAR' or {val} not in {_sql_list(arg)})",
                f"invalid_value:{label}",
            )
        ]
    if kind == "required_enum":
        return [
            (_absent(x), f"missing_property:{label}"),
            (f"json_type({x}) <> 'VARCHAR' or {val} not in {_sql_list(arg)}", f"invalid_value:{label}"),
        ]
    if kind == "required_nullable_enum":
        # The key must be there; its value may be null (a retracted rating).
        return [
            (f"{x} is null", f"missing_property:{label}"),
            (
                f"json_type({x}) <> 'NULL' and (json_type({x}) <> 'VARCHAR' or {val} not in {_sql_list(arg)})",
                f"invalid_value:{label}",
            ),
        ]
    if kind == "required_int_range":
        low, high = arg
        return [
            (_absent(x), f"missing_property:{label}"),
            (
                f"json_type({x}) not in ('UBIGINT', 'BIGINT') or try_cast({val} as bigint) not between {low} and {high}",
                f"invalid_value:{label}",
            ),
        ]
    raise ValueError(kind)


def reason_case_sql() -> str:
    """A CASE over the columns of `extracted_lines_sql` naming the reason, or NULL for a valid line."""
    whens: list[tuple[str, str]] = [
        ("not is_json", "invalid_json"),
        ("top_type <> 'OBJECT'", "not_an_object"),
    ]
    for f in ENVELOPE_FIELDS:
        x = f"e_{f}"
        whens += [
            (_absent(x), f"missing_field:{f}"),
            (f"json_type({x}) <> 'VARCHAR'", f"wrong_type:{f}"),
            (f"({x} ->> '$') = ''", f"empty_field:{f}"),
        ]
    whens += [
        (f"not {_absent('e_user_agent')} and json_type(e_user_agent) <> 'VARCHAR'", "wrong_type:user_agent"),
        (f"not regexp_matches(e_occurred_at ->> '$', '{RFC3339}')", "invalid_timestamp"),
        ("try_cast(upper(e_occurred_at ->> '$') as timestamptz) is null", "invalid_timestamp"),
        (f"not {_absent('e_properties')} and json_type(e_properties) <> 'OBJECT'", "wrong_type:properties"),
    ]
    for event_type, rules in PROPERTY_RULES.items():
        for name, kind, arg in rules:
            for cond, reason in _property_checks(event_type, name, kind, arg):
                whens.append((f"event_type = '{event_type}' and ({cond})", reason))
    body = "\n".join(f"        when {cond} then '{reason}'" for cond, reason in whens)
    return f"case\n{body}\n        else null\n    end"


def extracted_lines_sql(lines_table: str) -> str:
    """Parses each line once into its envelope and property values (JSON, SQL NULL when absent)."""
    env_paths = ", ".join(f"'$.\"{f}\"'" for f in ALL_ENVELOPE)
    env_cols = ",\n        ".join(f"env[{i + 1}] as e_{f}" for i, f in enumerate(ALL_ENVELOPE))
    prop_paths = ", ".join(f"'$.\"{p}\"'" for p in PROPERTY_NAMES)
    prop_cols = ",\n        ".join(f"props[{i + 1}] as p_{p}" for i, p in enumerate(PROPERTY_NAMES))
    return f"""
    with src as (
        select file_name, line_number, line, json_valid(line) as is_json
        from {lines_table}
    ),
    typed as (
        select *, case when is_json then json_type(line) end as top_type
        from src
    ),
    env as (
        select *,
            case when top_type = 'OBJECT' then json_extract(line, [{env_paths}]) end as env
        from typed
    ),
    env_cols as (
        select file_name, line_number, line, is_json, top_type,
        {env_cols}
        from env
    ),
    props as (
        select *,
            e_event_type ->> '$' as event_type,
            case when json_type(e_properties) = 'OBJECT'
                then json_extract(e_properties, [{prop_paths}]) end as props
        from env_cols
    )
    select * exclude (props),
        {prop_cols}
    from props
    """
