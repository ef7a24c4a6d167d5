"""For sqlfluff's jinja templater only (.sqlfluff library_path): dbt's cross-database macros that the
models call, rendered as dbt-duckdb renders them, so the linted SQL is the SQL dbt runs."""


def datediff(first_date, second_date, datepart):
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def type_string():
    return "varchar"
