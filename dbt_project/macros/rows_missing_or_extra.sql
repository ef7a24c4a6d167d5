{#-
  The rows of CTE `expected` that CTE `actual` lacks or has different ('missing or different'),
  then the rows of `actual` nobody expects ('extra or different'); empty when the two hold the
  same distinct rows (EXCEPT is set-based: duplicates are the uniqueness tests' job). Both CTEs must have the same columns in the same order. Two EXCEPTs
  (hash anti-joins that spill to disk) rather than one wide full outer join, which ran out of
  memory on a full rebuild under the default memory limit (docs/benchmark.md).
-#}

{% macro rows_missing_or_extra(expected, actual) %}
    select 'missing or different' as problem, * from (
        select * from {{ expected }}
        except
        select * from {{ actual }}
    )
    union all
    select 'extra or different' as problem, * from (
        select * from {{ actual }}
        except
        select * from {{ expected }}
    )
{% endmacro %}
