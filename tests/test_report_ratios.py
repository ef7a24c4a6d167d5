"""The report's ratios (orchestration/serve/queries/ratio.sql, `ratio_6`): a ratio of two whole
numbers rounded to 6 decimals, halves up, null over 0, as two people rounding by hand get it: the
exact fraction's digits, not a binary fraction's (DuckDB's round() of a DOUBLE gave 0.004687 for
3/640 = 0.0046875, though 0.039063 for 5/128 = 0.0390625, exact in binary). Plain DuckDB, no
refresh; the report reads every ratio through it (test_report_kpis checks the report's numbers)."""

from __future__ import annotations

from fractions import Fraction

import duckdb
import pytest

from orchestration.serve import queries


def by_hand(numerator: int, denominator: int) -> Fraction:
    """The fraction rounded to 6 decimals, halves up: the digits a person writes down."""
    scaled = Fraction(numerator, denominator) * 1_000_000
    return Fraction(int(scaled + Fraction(1, 2)), 1_000_000)


@pytest.fixture(scope="module")
def conn():
    conn = duckdb.connect()
    conn.execute(queries.read("ratio"))
    yield conn
    conn.close()


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (3, 640, 0.004688),  # exactly half: up, though the DOUBLE 3/640 lies just under it
    (5, 128, 0.039063),  # exactly half, a binary fraction
    (2, 3, 0.666667),
    (1, 3, 0.333333),
    (0, 7, 0.0),
    (7, 0, None),  # kpis.md rule 6
    (10, 4, 2.5),
    (3, 2_000_000, 0.000002),  # an average of 1.5 microseconds: 0.0000015 s
    (11_024_586_000, 96_000_000, 114.839438),  # summed microseconds over chats x 10^6: seconds
])
def test_a_ratio_is_its_fraction_rounded_half_up(conn, numerator, denominator, expected):
    [(value,)] = conn.execute("select ratio_6(?::hugeint, ?::hugeint)", [numerator, denominator]).fetchall()
    assert value == expected


# Every fraction a/b of a <= b over these denominators: all up to 200, and those whose decimals end
# (b = 2^i * 5^j) up to 5,000, where the exact halves at the 7th decimal are (3/640 among them).
DENOMINATORS = sorted({*range(1, 201), *(2**i * 5**j for i in range(13) for j in range(6) if 2**i * 5**j <= 5000)})


def test_every_small_fraction_gets_the_digits_written_by_hand(conn):
    rows = conn.execute("""
        select a, b, ratio_6(a, b) from unnest(?) as t (b), range(0, 5001) as s (a) where a <= b
        """, [DENOMINATORS]).fetchall()
    assert len(rows) == sum(b + 1 for b in DENOMINATORS)
    wrong = [(a, b, value) for a, b, value in rows if value != float(by_hand(a, b))]
    assert not wrong, wrong[:5]
