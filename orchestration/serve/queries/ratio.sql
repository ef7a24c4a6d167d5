-- A ratio of two whole numbers as the report gives it (kpis.md rule 6, interfaces.md): rounded to 6
-- decimals, halves up, null when the denominator is 0. Computed on the whole numbers, not through a
-- binary fraction: DuckDB's round() of a DOUBLE rounds a half down when the binary value falls just
-- under it (3/640 = 0.0046875 gave 0.004687, where 5/128 = 0.0390625, exact in binary, gave
-- 0.039063), so two people rounding by hand would disagree with it. Created on each report
-- connection (a temporary macro).
create or replace temp macro ratio_6(numerator, denominator) as
(2 * numerator * 1000000 + denominator) // (2 * nullif(denominator, 0)) / 1000000.0
