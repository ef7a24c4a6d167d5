"""Asset checks beyond dbt's tests: the share of rejected lines, and the freshness of the exports."""


import datetime as dt

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from ..settings import DEFAULT_FRESHNESS_DAYS, DEFAULT_MAX_REJECTED_SHARE, freshness_days, max_rejected_share
from .partitions import run_day_range
from .resources import WarehouseResource


def _read(context: AssetCheckExecutionContext, warehouse: WarehouseResource, sql: str,
          parameters: list | None = None) -> list[tuple]:
    with warehouse.refresh_lock(context.log.info):
        conn = duckdb.connect(str(warehouse.build_file), read_only=True)
        try:
            return conn.execute(sql, parameters).fetchall()
        finally:
            conn.close()


@asset_check(asset=AssetKey(["raw", "rejected_lines"]), blocking=False,
             description="Per export day of the run, rejected lines / lines read stays under "
                         f"ANALYTICS_MAX_REJECTED_SHARE (default {DEFAULT_MAX_REJECTED_SHARE}). "
                         "A breach fails the check; the good lines stay loaded. A run without export "
                         "days (the check executed alone) checks every loaded day.")
def rejected_share_under_threshold(context: AssetCheckExecutionContext,
                                   warehouse: WarehouseResource) -> AssetCheckResult:
    # the run's own days: a day over the threshold fails the run that loads it, not every later one
    threshold = max_rejected_share()
    rows = _read(context, warehouse, """
        select d.export_date, d.lines_read, count(r.line_number) as rejected
        from raw.export_days d
        left join raw.rejected_lines r on r.export_date = d.export_date
        where ($1::date is null or d.export_date >= $1) and ($2::date is null or d.export_date <= $2)
        group by all order by d.export_date
    """, list(run_day_range(context.run.tags) or (None, None)))
    shares = {str(day): (rej / lines if lines else 0.0) for day, lines, rej in rows}
    breaches = {day: round(share, 6) for day, share in shares.items() if share > threshold}
    return AssetCheckResult(
        passed=not breaches,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "threshold": threshold,
            "days_checked": len(shares),
            "worst_share": round(max(shares.values(), default=0.0), 6),
            "days_over_threshold": MetadataValue.json(breaches),
        },
    )


@asset_check(asset=AssetKey(["raw", "export_days"]), blocking=False,
             description="The newest loaded export day is at most ANALYTICS_FRESHNESS_DAYS "
                         f"(default {DEFAULT_FRESHNESS_DAYS}) days old.")
def exports_are_fresh(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    max_age = freshness_days()
    newest = _read(context, warehouse, "select max(export_date) from raw.export_days")[0][0]
    today = dt.datetime.now(dt.UTC).date()
    age = (today - newest).days if newest else None
    return AssetCheckResult(
        passed=age is not None and age <= max_age,
        severity=AssetCheckSeverity.WARN,
        metadata={"newest_export_day": str(newest), "age_days": age, "max_age_days": max_age},
    )


raw_checks = [rejected_share_under_threshold, exports_are_fresh]
