"""Refresh cost against the DuckDB floor, and how it grows with history.

    python benchmarks/run.py [--events-per-day 3000000] [--history 3 20] [--days N] [--workdir DIR]
                             [--out FILE] [--skip-incremental] [--skip-full] [--report-only]
                             [--small-day-only] [--spark] [--spark-demo-days 3]

First, one small day: the demo's exports (`demo`), then the demo's last day refreshed again on top
of it, the CLI process included (the fixed cost every refresh pays, whatever its size).
With --spark (optional: it needs pyspark and a Java runtime, docs/spark.md), the same small demo
(--spark-demo-days) is built on DuckDB and on a local Spark (ANALYTICS_ENGINE=spark, local[2] in
dbt's process), and its last day refreshed again incrementally on Spark; their reports must be
equal. A correctness run in local mode, not a speed claim: a local Spark spends its time starting
queries, and scales out only on a cluster.
Then generates valid exports at scale inside DuckDB and measures on that data, each step in its own
process (peak RSS from wait4):
  1. floor: a bare DuckDB script that reads one day's JSON and sessionizes it;
  2. incremental refresh of one day on top of N loaded days, for each N of --history (the history
     is loaded by a backfill whose last day is refreshed alone, as the nightly schedule does);
  3. full rebuild (`refresh --all --full`) of every day;
  4. `report` of the last --report-days loaded days (a month), whose previous period (the same
     number of days before it) is loaded too: in-process query time (the first run in a fresh
     process, and the median of the next runs), and the CLI's wall time;
  5. the incremental refresh once more (the same day re-delivered) under a low DuckDB memory limit
     (--low-memory-limit, default 1GB), to show it spills to disk instead of failing.
Every setting is the project's default unless the caller sets ANALYTICS_DUCKDB_MEMORY_LIMIT,
ANALYTICS_DUCKDB_THREADS, ANALYTICS_DBT_THREADS or the backfill run sizes: the peak RSS target
(4 GiB: DuckDB's buffer pool plus the Python processes around it) holds for the defaults.
Prints a table and writes it as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "orchestration.cli"]  # this checkout's code, run from its root
FIRST_DAY = dt.date(2026, 10, 1)

GENERATE_DAY_SQL = """
copy (
    with base as (
        select
            i,
            cast($day_index as bigint) * 1000000000 + i // 8 as conv,
            hash(cast($day_index as bigint) * 1000000000 + i // 8) as h
        from range($n) t(i)
    )
    select
        'e' || $day_index || '_' || i as event_id,
        case i % 8
            when 0 then 'user_message' when 1 then 'bot_message' when 2 then 'user_message'
            when 3 then 'bot_message' when 4 then 'click' when 5 then 'bot_message'
            when 6 then 'feedback' else (case when h % 4 = 0 then 'csat' else 'handover_request' end)
        end as event_type,
        strftime(cast($day as timestamp) + to_seconds(cast(h % 85000 as bigint))
                 + to_seconds(cast(i % 8 * 20 as bigint)),
                 '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
        ['acme-support', 'globex-sales', 'initech-help'][1 + cast(h % 3 as integer)] as assistant_id,
        ['web', 'web', 'whatsapp', 'voice'][1 + cast((h // 3) % 4 as integer)] as channel,
        -- most users are new that day; one in five comes back from an earlier day
        case when h % 5 = 0 and $day_index > 1
            then 'u' || (1 + (h // 7) % ($day_index - 1)) || '_' || ((h // 12) % ($n // 10))
            else 'u' || $day_index || '_' || ((h // 12) % ($n // 10)) end as user_id,
        'c' || conv as conversation_id,
        case when (h // 3) % 4 < 2 then
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/'
            || (100 + (h // 48) % 30) || '.0 Safari/537.36' end as user_agent,
        case i % 8
            when 0 then json_object('message_id', 'm' || $day_index || '_' || i, 'text', 'where is my order?')
            when 2 then json_object('message_id', 'm' || $day_index || '_' || i, 'text', 'thanks')
            when 1 then json_object('message_id', 'm' || $day_index || '_' || i, 'reviewable', true,
                                    'agent_id', 'billing', 'agent_name', 'Billing agent', 'agent_kind', 'agent')
            when 3 then json_object('message_id', 'm' || $day_index || '_' || i, 'is_fallback', h % 5 = 0)
            when 5 then json_object('message_id', 'm' || $day_index || '_' || i, 'reviewable', true)
            when 4 then json_object('click_type', 'quick_reply', 'title', 'Track my order',
                                    'destination_type', 'answer', 'destination', 'tracking')
            when 6 then json_object('message_id', 'm' || $day_index || '_' || (i - 5),
                                    'value', case when h % 3 = 0 then 'negative' else 'positive' end)
            else (case when h % 4 = 0 then json_object('score', 1 + h % 5)
                       else json_object('via', 'message', 'mode', 'ticket') end)
        end as properties
    from base
) to '{path}' (format json, compression gzip)
"""


def generate(exports: Path, days: int, events_per_day: int) -> float:
    started = time.perf_counter()
    conn = duckdb.connect()
    for d in range(days):
        day = FIRST_DAY + dt.timedelta(days=d)
        folder = exports / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "part-0000.jsonl.gz"
        if path.exists():
            continue
        conn.execute(GENERATE_DAY_SQL.replace("{path}", str(path)),
                     {"day_index": d + 1, "day": day, "n": events_per_day})
    conn.close()
    return time.perf_counter() - started


FLOOR_SCRIPT = """
import duckdb, sys
conn = duckdb.connect()
print(conn.execute('''
with events as (
    select * from read_ndjson(?, columns = {
        event_id: 'varchar', event_type: 'varchar', occurred_at: 'timestamptz', assistant_id: 'varchar',
        channel: 'varchar', user_id: 'varchar', conversation_id: 'varchar', user_agent: 'varchar',
        properties: 'json'})
),
flagged as (
    select *, case when lag(occurred_at) over w is null
                     or occurred_at - lag(occurred_at) over w > interval 30 minute then 1 else 0 end as is_start
    from events where event_type <> 'feedback'
    window w as (partition by assistant_id, channel, user_id, conversation_id order by occurred_at, event_id)
)
select count(*), sum(is_start) from flagged
''', [sys.argv[1]]).fetchall())
"""


def measure(cmd: list[str], env: dict, *, may_fail: bool = False) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    result = {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stdout": out}
    if code != 0:
        if may_fail:  # reported in the table, not fatal: the other steps still say something
            return {**result, "failed": (err.strip().splitlines() or ["?"])[-1][-300:]}
        raise SystemExit(f"{cmd} failed ({code}):\n{out}\n{err}")
    return {**result, **phases(err, seconds)}


PHASES = {  # progress lines of `refresh` (stderr) -> phase
    "load": re.compile(r"load done in ([0-9.]+)s"),
    "dbt": re.compile(r"dbt build done in ([0-9.]+)s"),
    "publish": re.compile(r"published .* in ([0-9.]+)s"),
}


def phases(stderr: str, total: float) -> dict:
    """Seconds per phase of a refresh; `other` is start-up (imports, manifest) and Dagster's own work."""
    found = {name: sum(float(x) for x in rx.findall(stderr)) for name, rx in PHASES.items()}
    if not any(found.values()):
        return {}
    found["other"] = total - sum(found.values())
    return {"phases": {k: round(v, 1) for k, v in found.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events-per-day", type=int, default=3_000_000)
    p.add_argument("--history", type=int, nargs="+", default=[3, 20])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/assistant-analytics-bench"))
    p.add_argument("--out", type=Path, default=None,
                   help="the JSON file written (default: benchmarks/results.json, the figures docs/benchmark.md "
                        "gives; with --small-day-only or --report-only, results.json in --workdir, so that a "
                        "quick run does not replace them)")
    p.add_argument("--days", type=int, default=None,
                   help="export days to generate (default: the largest --history + 1, at least "
                        "2 x --report-days: the report's period and its previous period)")
    p.add_argument("--report-days", type=int, default=30, help="the report's period, in days (default 30)")
    p.add_argument("--report-only", action="store_true",
                   help="measure the report alone, on the warehouse an earlier run left in --workdir")
    p.add_argument("--report-copies", type=int, default=0,
                   help="with --report-only: measure the report on N date-shifted copies of the warehouse's "
                        "marts (a month at 3M events a day from a few days built; see docs/benchmark.md)")
    p.add_argument("--small-day-only", action="store_true",
                   help="measure the small day on the demo alone (about a minute)")
    p.add_argument("--spark", action="store_true",
                   help="also build a small demo on a local Spark (needs pyspark and Java; a correctness run, "
                        "not a speed claim: docs/spark.md)")
    p.add_argument("--spark-demo-days", type=int, default=3, help="days of the --spark demo (default 3)")
    p.add_argument("--skip-full", action="store_true", help="skip the full rebuild")
    p.add_argument("--skip-incremental", action="store_true",
                   help="skip the incremental refreshes and the spill check (--history still sets the days)")
    p.add_argument("--low-memory-limit", default="1GB",
                   help="DuckDB memory_limit of the spill check (empty: skip it)")
    args = p.parse_args()
    if args.out is None:
        quick = args.small_day_only or args.report_only
        args.out = args.workdir / "results.json" if quick else Path(__file__).with_name("results.json")

    work = args.workdir
    exports = work / "exports"
    history = sorted(args.history)
    # the report row needs its period and the previous one loaded: 2 x --report-days
    days = args.days or max(history[-1] + 1, 2 * args.report_days)
    if days < 2 * args.report_days:
        p.error(f"--days {days} cannot hold a report of {args.report_days} days and its previous period")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    # the DuckDB limits, dbt threads and backfill run sizes are the only settings taken from the caller
    for name in ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "ANALYTICS_DUCKDB_THREADS", "ANALYTICS_DBT_THREADS",
                 "ANALYTICS_MAX_DAYS_PER_RUN", "ANALYTICS_MAX_EXPORT_MB_PER_RUN"):
        if name in os.environ:
            env[name] = os.environ[name]
    rows = []
    if not args.report_only:
        rows += measure_small_day(work / "demo", env)
        if args.spark:
            rows += measure_spark_demo(work / "spark", env, args.spark_demo_days)
        if args.small_day_only:
            finish(args, env, rows, work)
            return
        gen_seconds = generate(exports, days, args.events_per_day)
        print(f"generated {days} days x {args.events_per_day:,} events in {gen_seconds:.1f}s", file=sys.stderr)

    wh = work / "warehouse.duckdb"
    common = ["--warehouse", str(wh), "--exports", str(exports)]
    day = lambda i: (FIRST_DAY + dt.timedelta(days=i)).isoformat()  # noqa: E731
    if args.report_only:
        if args.report_copies:
            wh = scaled_marts(wh, work / "report-scaled.duckdb", args.report_copies)
        rows += measure_report(wh, env, args.report_days)
        finish(args, env, rows, work)
        return
    for f in work.glob("*warehouse*"):
        f.unlink()

    floor = measure([sys.executable, "-c", FLOOR_SCRIPT, str(exports / f"dt={day(days - 1)}" / "*.jsonl.gz")], env)
    rows.append({"step": "floor: DuckDB reads + sessionizes one day", "events": args.events_per_day, **floor})

    loaded = 0
    for n in [] if args.skip_incremental else history:
        if n > loaded:  # bring the history to n days (not measured)
            print(f"loading days {loaded + 1}..{n} ...", file=sys.stderr)
            # The last day alone, as the nightly schedule refreshes it: the spare file that the
            # measured refresh's publish rewrites is then one nightly refresh behind, as in operation.
            if n - 1 > loaded:
                measure([*CLI, "refresh", *common, "--from", day(loaded), "--to", day(n - 2)], env)
            measure([*CLI, "refresh", *common, "--day", day(n - 1)], env)
            loaded = n
        r = measure([*CLI, "refresh", *common, "--day", day(n)], env)
        rows.append({"step": f"incremental refresh of 1 day on {n} days", "events": args.events_per_day, **r})
        # The measured day is now loaded too; the next history level reloads from there.
        loaded = n + 1
    if args.low_memory_limit and not args.skip_incremental:
        low_env = {**env, "ANALYTICS_DUCKDB_MEMORY_LIMIT": args.low_memory_limit}
        r = measure([*CLI, "refresh", *common, "--day", day(history[-1])], low_env, may_fail=True)
        rows.append({"step": f"same, re-delivered, memory_limit {args.low_memory_limit} (spills)",
                     "events": args.events_per_day, **r})
    if not args.skip_full:
        r = measure([*CLI, "refresh", *common, "--all", "--full"], env, may_fail=True)
        rows.append({"step": f"full rebuild of {days} days", "events": args.events_per_day * days, **r})

    rows += measure_report(wh, env, args.report_days)
    finish(args, env, rows, work)


def measure_small_day(folder: Path, env: dict) -> list[dict]:
    """The demo (not measured), then its last export day refreshed again on top of it, end to end."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    common = ["--warehouse", str(folder / "warehouse.duckdb"), "--exports", str(folder / "exports")]
    measure([*CLI, "demo", *common, "--format", "json"], env)
    last_day = max(p.name for p in (folder / "exports").glob("dt=*")).removeprefix("dt=")
    lines = demo_lines(folder / "exports", last_day)
    r = measure([*CLI, "refresh", *common, "--day", last_day], env)
    return [{"step": "small day: the demo's last day refreshed on the demo", "events": lines, **r}]


SPARK_NOTE = "Spark local[2]: a correctness run, not a speed claim (docs/spark.md)"


def measure_spark_demo(folder: Path, env: dict, days: int) -> list[dict]:
    """The demo of `days` days built on DuckDB and on a local Spark, then its last day refreshed again
    on Spark (an incremental refresh: user buckets overwritten); the two demos' reports must be equal."""
    shutil.rmtree(folder, ignore_errors=True)
    rows, reports = [], {}
    for engine in ("duckdb", "spark"):
        workspace = folder / engine
        workspace.mkdir(parents=True)
        common = ["--warehouse", str(workspace / "warehouse.duckdb"), "--exports", str(workspace / "exports")]
        engine_env = {**env, "ANALYTICS_ENGINE": engine}
        r = measure([*CLI, "demo", *common, "--days", str(days), "--format", "json"], engine_env)
        reports[engine] = json.loads(r["stdout"])
        rows.append({"step": f"demo of {days} days built on {engine}", "events": demo_lines(workspace / "exports"),
                     **r, **({"note": SPARK_NOTE} if engine == "spark" else {})})
        if engine == "spark":
            last_day = max(p.name for p in (workspace / "exports").glob("dt=*")).removeprefix("dt=")
            r = measure([*CLI, "refresh", *common, "--day", last_day], engine_env)
            rows.append({"step": "its last day refreshed again on spark (incremental)",
                         "events": demo_lines(workspace / "exports", last_day), **r, "note": SPARK_NOTE})
    if reports["spark"] != reports["duckdb"]:
        raise SystemExit("the Spark demo's report differs from the DuckDB demo's: a wrong result, not a timing")
    return rows


def demo_lines(exports: Path, day: str | None = None) -> int:
    """Lines of the export files of one day, or of every day."""
    files = [f for d in exports.glob(f"dt={day or '*'}") for f in d.iterdir()]
    return sum(len((gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()).splitlines())
               for f in files)


REPORT_SCRIPT = """
import datetime as dt, statistics, sys, time
from pathlib import Path
from orchestration.serve.report import ReportParams, build_report, connect_read_only
conn = connect_read_only(Path(sys.argv[1]))
conn.execute("set enable_progress_bar = false")  # a code version whose connection draws one
params = ReportParams("acme-support", dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))
seconds = []
for _ in range(6):
    started = time.perf_counter()
    report = build_report(conn, params)
    seconds.append(time.perf_counter() - started)
assert report["chats"]["total"] and report["previous"]["chats"]["total"], "a period without chats measures nothing"
print(seconds[0], statistics.median(seconds[1:]))
"""


def scaled_marts(source: Path, target: Path, copies: int) -> Path:
    """A warehouse whose marts hold `copies` copies of source's, each shifted in time by the span of
    source's chat dates: the rows a report reads over a month at the source's daily volume, built
    from a few days. The report reads marts alone and its cost follows the rows it reads, not their
    values; within a copy every date moves together, so each copy is a consistent stretch of history.
    Rows are written in date order, then by assistant, as daily refreshes append them."""
    target.unlink(missing_ok=True)
    conn = duckdb.connect(str(target))
    conn.execute("attach ? as source (read_only)", [str(source)])
    conn.execute("create schema marts")
    first, last = conn.execute(
        "select min(chat_local_date), max(chat_local_date) from source.marts.fct_chats").fetchone()
    shift_days = (last - first).days + 1
    tables = conn.execute("select table_name from duckdb_tables() where database_name = 'source' "
                          "and schema_name = 'marts' order by 1").fetchall()
    for (table,) in tables:
        columns = conn.execute("select column_name, data_type from duckdb_columns() where database_name = 'source' "
                               "and schema_name = 'marts' and table_name = ? order by column_index",
                               [table]).fetchall()
        shifted = []
        for name, data_type in columns:
            if data_type == "DATE":
                shifted.append(f'"{name}" + copy_index * {shift_days} as "{name}"')
            elif data_type.startswith("TIMESTAMP"):
                shifted.append(f'"{name}" + to_days(copy_index * {shift_days}) as "{name}"')
            else:
                shifted.append(f'"{name}"')
        # each day's rows by assistant, as the daily refreshes append them
        keys = [name for name, data_type in columns if data_type == "DATE"][:1]
        keys += [name for name, _ in columns if name == "assistant_id"]
        order = "order by " + ", ".join(f'"{key}"' for key in keys) if keys else ""
        copy_indexes = f"(select cast(range as integer) as copy_index from range({int(copies)}))"
        conn.execute(f'create table marts."{table}" as select {", ".join(shifted)} '
                     f'from source.marts."{table}", {copy_indexes} as copies {order}')
    conn.execute("detach source")
    conn.close()
    return target


def measure_report(wh: Path, env: dict, report_days: int) -> list[dict]:
    """The report of the last `report_days` days of chats, whose previous period must be loaded too."""
    conn = duckdb.connect(str(wh), read_only=True)
    first, last = conn.execute("select min(chat_local_date), max(chat_local_date) from marts.fct_chats").fetchone()
    conn.close()
    date_from = last - dt.timedelta(days=report_days - 1)
    what = f"report of {report_days} days + previous {report_days}"
    if date_from - dt.timedelta(days=report_days) < first:  # e.g. --skip-full: the history days alone
        return [{"step": what, "events": None, "seconds": 0, "peak_rss_mb": 0,
                 "failed": f"needs {2 * report_days} days of chats, the warehouse holds {first} .. {last}"}]
    period = [date_from.isoformat(), last.isoformat()]
    inproc = measure([sys.executable, "-c", REPORT_SCRIPT, str(wh), *period], env)
    first_run, median = (float(x) for x in inproc["stdout"].split())
    cli = measure([*CLI, "report", "--warehouse", str(wh), "--assistant", "acme-support",
                   "--from", period[0], "--to", period[1]], env)
    return [
        {"step": f"{what} (query, first in process)", "events": None, "seconds": round(first_run, 3),
         "peak_rss_mb": inproc["peak_rss_mb"], "period": period},
        {"step": f"{what} (query, median of 5 more)", "events": None, "seconds": round(median, 3),
         "peak_rss_mb": inproc["peak_rss_mb"], "period": period},
        {"step": f"{what} (CLI wall time)", "events": None, **cli, "period": period},
    ]


def finish(args: argparse.Namespace, env: dict, rows: list[dict], work: Path) -> None:
    """Prints the table and writes it as JSON."""
    for r in rows:
        r.pop("stdout", None)
        r["events_per_second"] = round(r["events"] / r["seconds"]) if r.get("events") and not r.get("failed") else None
    floor_s = next((r["seconds"] for r in rows if r["step"].startswith("floor")), None)
    incr = [r for r in rows if r["step"].startswith("incremental")]
    summary = {
        "incremental_vs_floor": [round(r["seconds"] / floor_s, 2) for r in incr] if floor_s else [],
        "incremental_growth_last_vs_first": round(incr[-1]["seconds"] / incr[0]["seconds"], 2) if incr else None,
    }
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__,
                    "memory_limit": env.get("ANALYTICS_DUCKDB_MEMORY_LIMIT", "3GB (default)"),
                    "threads": env.get("ANALYTICS_DUCKDB_THREADS", "one per core (default)"),
                    "dbt_threads": env.get("ANALYTICS_DBT_THREADS", "2 (default)"),
                    "max_days_per_run": env.get("ANALYTICS_MAX_DAYS_PER_RUN", "none (default)"),
                    "max_export_mb_per_run": env.get("ANALYTICS_MAX_EXPORT_MB_PER_RUN", "256 (default)")},
        "events_per_day": args.events_per_day,
        "rows": rows,
        "summary": summary,
        "ran_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    print(f"{'step':<60}{'events':>12}{'seconds':>10}{'events/s':>12}{'peak RSS MB':>13}")
    for r in rows:
        ev = f"{r['events']:,}" if r["events"] else "-"
        eps = f"{r['events_per_second']:,}" if r["events_per_second"] else "-"
        split = " ".join(f"{k} {v}" for k, v in r.get("phases", {}).items())
        print(f"{r['step']:<60}{ev:>12}{r['seconds']:>10}{eps:>12}{r['peak_rss_mb']:>13}  {split}"
              + (f"  FAILED: {r['failed']}" if r.get("failed") else "")
              + (f"  [{r['note']}]" if r.get("note") else ""))
    print(json.dumps(summary))
    shutil.rmtree(work / "dagster_home", ignore_errors=True)


if __name__ == "__main__":
    main()
