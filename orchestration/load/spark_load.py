"""The Spark loader (issue #23, docs/spark.md): an export day loaded into Spark's raw tables.

`classify_export_day` reads the day's export files into a SparkSession and judges every line as the
DuckDB loader (raw.py) does: the same files (exports.py), the same physical line numbers, the same
blank lines, the same rules and reasons (validation.py's CASE, generated for Spark), the same
columns as raw.events and raw.rejected_lines, and the same per-file rows as raw.export_files.
`load_export_day_spark` writes them: Spark's raw tables are Parquet tables partitioned by
export_date, a day replaced by a dynamic partition overwrite (the Parquet form of raw.py's delete
+ insert of a day), with raw.answer_owners, raw.pending_users and the duplicate count computed as
raw.py computes them. A refresh runs it as a job of its own process (build/spark_job.py).

How each file is read:
- Spark reads a file whose content is what its name says (plain `.jsonl`, intact gzip `.jsonl.gz`;
  members one after the other included) itself: its text source splits lines at "\\n" only, as the
  DuckDB loader does; a trailing CR is dropped; a line that is not valid UTF-8 is rejected as
  `invalid_utf8` with its bad bytes shown as `\\xNN`, as the DuckDB loader keeps it.
- Every other file takes the DuckDB loader's careful path, in Python on the driver, with its own
  functions: an empty or truncated or corrupt gzip (the lines before the damage are kept), gzip
  content under a plain name, plain text under a gzip name, and a file that starts with a UTF-8
  byte order mark (Hadoop's line reader drops it; DuckDB keeps it, so that line is not JSON).
  Whether a gzip file is intact is checked on the driver by zlib, as the DuckDB loader checks it (a
  full decompression): on a cluster that check belongs on the executors (left, docs/spark.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from .exports import (
    changed_since,
    check_export_day,
    day_folder,
    export_files,
    fingerprint,
    is_utf8_path,
    shown_names,
)
from .raw import (
    ExportFileGone,
    _careful_invalid_utf8_note,
    _format_note,
    _gzip_size,
    _holds_gzip,
    _invalid_utf8_note,
    _read_gzip,
    _utf8_text,
    gone_or_unreadable,
    removed_while_read,
)
from .user_agents import parsed, parser_version
from .validation import BLANK_LINE, SPARK, reason_case_sql, spark_extracted_lines_sql

LINES_SCHEMA = "file_name string, line_number bigint, line string, invalid_utf8 boolean, damaged_gzip boolean"

# The bytes of a line that is not valid UTF-8, as Python's decode(errors="backslashreplace") gives
# them (the DuckDB loader's careful path): each byte outside a well-formed UTF-8 sequence (Unicode
# table 3-7: no overlong form, no surrogate, nothing above U+10FFFF) becomes `\xNN`, the rest is kept.
_BYTE = "cast(conv(hex(substr(b, {i}, 1)), 16, 10) as int)"
_NEXT = "coalesce(try_element_at(x, i + {k}), -1)"  # the byte k after the one at 0-based index i


def _cont(k: int, low: int = 0x80, high: int = 0xBF) -> str:
    return f"{_NEXT.format(k=k)} between {low} and {high}"


_SEQUENCE_LENGTH = f"""case
    when c < 128 then 1
    when c between 194 and 223 and {_cont(2)} then 2
    when c = 224 and {_cont(2, 0xA0)} and {_cont(3)} then 3
    when (c between 225 and 236 or c between 238 and 239) and {_cont(2)} and {_cont(3)} then 3
    when c = 237 and {_cont(2, 0x80, 0x9F)} and {_cont(3)} then 3
    when c = 240 and {_cont(2, 0x90)} and {_cont(3)} and {_cont(4)} then 4
    when c between 241 and 243 and {_cont(2)} and {_cont(3)} and {_cont(4)} then 4
    when c = 244 and {_cont(2, 0x80, 0x8F)} and {_cont(3)} and {_cont(4)} then 4
    else 0 end"""
# inside a sequence that starts 1, 2 or 3 bytes before (`n`: the lengths of the sequences starting
# at each byte, 0 where none does)
_COVERED = " or ".join(f"(i >= {k} and try_element_at(n, i + 1 - {k}) > {k})" for k in (1, 2, 3))


def _backslash_replaced(line: str) -> list[tuple[str, str]]:
    """Columns (name, expression), each reading the ones before, that end with `shown`: the line's
    text as the careful path keeps it when `invalid_utf8`, else NULL (only such a line's bytes are
    looked at)."""
    return [
        ("b", f"cast({line} as binary)"),
        ("x", f"case when invalid_utf8 then transform(sequence(1, octet_length(b)), i -> {_BYTE.format(i='i')}) end"),
        ("n", f"transform(x, (c, i) -> {_SEQUENCE_LENGTH})"),
        ("shown", "array_join(transform(n, (m, i) -> case when m > 0 then decode(substr(b, i + 1, m), 'UTF-8') "
                  f"when {_COVERED} then '' else concat(r'\\x', lower(hex(substr(b, i + 1, 1)))) end), '')"),
    ]


@dataclass
class SparkExportDay:
    """One export day judged on Spark. `classified` is checkpointed locally (computed once and kept
    in memory, then disk): the files are read and judged once for all three outputs, and every
    DataFrame built on it starts from the kept rows, not from the plan that judged them. Spark
    analyses a DataFrame's whole plan at each step that builds one, and the judging plan (a case
    expression per rule) made each of those steps cost a good part of a second. `release()` frees
    the kept rows."""

    export_date: dt.date
    classified: DataFrame  # every non-blank line: file_name, line_number, reason (NULL: loaded), ...
    events: DataFrame  # raw.events' columns (properties: the JSON object's text)
    rejected_lines: DataFrame  # raw.rejected_lines' columns
    export_files: list[dict]  # raw.export_files' columns, one dict per file
    rejects_by_reason: dict[str, int]  # lines rejected, by reason
    answers: int  # loaded bot_message lines (raw.answer_owners' rows)

    def release(self) -> None:
        _release(self.classified)


def _release(checkpointed: DataFrame) -> None:
    """Frees a local checkpoint's rows. They are those of a cached RDD, which DataFrame.unpersist
    does not reach (it knows the cached plans only); Spark frees them itself only once that RDD is
    garbage collected, so a load of many days would keep every day's rows until then."""
    checkpointed._jdf.queryExecution().analyzed().rdd().unpersist(False)


def _hadoop_path(path: Path) -> str:
    """A local file as a path Spark reads as it is: Hadoop would read {}[]*?\\ as a glob."""
    text = str(path.resolve())
    for ch in "\\{}[]*?":
        text = text.replace(ch, "\\" + ch)
    return text


_UTF8_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _starts_with_byte_order_mark(path: Path, gzipped: bool) -> bool:
    """Hadoop's line reader drops a UTF-8 byte order mark at the start of a file, which the DuckDB
    loader keeps (that first line is then not JSON: docs/decisions.md): such a file is read by the
    careful path, as DuckDB reads it."""
    try:
        with gzip.open(path) if gzipped else open(path, "rb") as f:
            return f.read(len(_UTF8_BYTE_ORDER_MARK)) == _UTF8_BYTE_ORDER_MARK
    except (OSError, EOFError, zlib.error):
        return False  # a damaged gzip: the careful path's already


def _careful_lines(path: Path, name: str, gzipped: bool) -> tuple[list[tuple], str | None]:
    """The DuckDB loader's careful path (raw.py `_read_careful`) without DuckDB: the lines that can be
    read (file_name, line_number, line, invalid_utf8, damaged_gzip) and the damage, if any."""
    damage, damaged_lines = [], []
    if gzipped:
        data, gzip_damage, damaged_lines = _read_gzip(path)
        damage.append(gzip_damage)
    else:
        data = path.read_bytes()
    text, bad_lines = _utf8_text(data)
    damage.append(_careful_invalid_utf8_note(bad_lines, damaged_lines))
    bad, damaged = set(bad_lines), set(damaged_lines)
    rows = [(name, number, line.rstrip("\r"), number in bad, number in damaged)
            for number, line in enumerate(text.split("\n"), start=1)]
    return rows, "; ".join(d for d in damage if d) or None


def _numbered_lines(spark: SparkSession, folder: Path, paths: list[Path]) -> DataFrame:
    """The files' lines with their physical numbers, read by Spark's text source.

    A file is read in blocks (a gzip file in one); a block is read in order within one task, so its
    lines carry consecutive `monotonically_increasing_id`s. A line's number is the lines of the
    file's earlier blocks, plus its place in its block: no sort of the lines.
    """
    lines = (spark.read.option("lineSep", "\n").option("basePath", str(folder.resolve()))
             .text([_hadoop_path(p) for p in paths])
             # the name as a URI path segment: %XX for what a URI may not hold ("+" stays as it is,
             # which url_decode would read as a space)
             .select(F.expr("url_decode(replace(_metadata.file_name, '+', '%2B'))").alias("file_name"),
                     F.col("_metadata.file_block_start").alias("block_start"),
                     F.monotonically_increasing_id().alias("row_id"), F.col("value")))
    earlier = Window.partitionBy("file_name").orderBy("block_start").rowsBetween(Window.unboundedPreceding, -1)
    blocks = (lines.groupBy("file_name", "block_start")
              .agg(F.min("row_id").alias("first_row"), F.count(F.lit(1)).alias("rows"))
              .withColumn("rows_before", F.coalesce(F.sum("rows").over(earlier), F.lit(0))))
    numbered = lines.join(F.broadcast(blocks), ["file_name", "block_start"]).selectExpr(
        "file_name", "rows_before + row_id - first_row + 1 as line_number", "value",
        # before any function that reads the text as characters (those replace bad bytes)
        "not is_valid_utf8(value) as invalid_utf8")
    for name, expr in _backslash_replaced("value"):
        numbered = numbered.withColumn(name, F.expr(expr))
    # only "\n" ends a line: CRs before it (a CRLF line end) are not part of the line
    return numbered.selectExpr(
        "file_name", "line_number",
        r"regexp_replace(case when invalid_utf8 then shown else value end, r'\r+\z', '') as line", "invalid_utf8",
        "false as damaged_gzip")


CLASSIFY_SQL = """
with x as ({extracted}),
judged as (
    select *, {is_blank} as is_blank from x
),
reasoned as (
    select *, case when is_blank then null else {reason} end as reason from judged
)
select file_name, line_number, invalid_utf8, reason,
    case when reason is not null then line end as line,
    s_e_event_id as event_id, s_e_event_type as event_type,
    case when reason is null then occurred_at end as occurred_at,
    s_e_assistant_id as assistant_id, s_e_channel as channel, s_e_user_id as user_id,
    s_e_conversation_id as conversation_id,
    case when reason is null and s_e_event_type = 'bot_message' then s_p_message_id end as message_id,
    case when t_e_user_agent = 'VARCHAR' then s_e_user_agent end as user_agent,
    case when reason is not null then null
         when t_e_properties = 'OBJECT' then s_e_properties
         else '{{}}' end as properties
from reasoned
where not is_blank
"""


def classify_export_day(spark: SparkSession, exports_dir: Path, day: dt.date) -> SparkExportDay:
    """Judges every line of export day `day` on `spark` (see the module's docstring)."""
    folder = check_export_day(exports_dir, day)
    direct, careful_rows, files = [], [], []
    names = shown_names(export_files(folder))
    for path, name in names.items():
        try:
            gzipped = _holds_gzip(path)
            # a path that is not UTF-8 (a name's bytes: shown_name) cannot be given to Spark: Python reads it
            read_by_spark = (gzipped == path.name.endswith(".gz") and is_utf8_path(path)
                             and (not gzipped or _gzip_size(path) is not None)
                             and not _starts_with_byte_order_mark(path, gzipped))
            rows, damage = ([], None) if read_by_spark else _careful_lines(path, name, gzipped)
            notes = [n for n in (_format_note(path, gzipped), damage) if n]
            size = path.stat().st_size
        except OSError as exc:  # removed since the listing (raw.py's load_export_day), or unreadable
            raise gone_or_unreadable(exc, path, name) from None
        direct += [path] if read_by_spark else []
        careful_rows += rows
        files.append({"export_date": day, "file_name": name, "size_bytes": size, "notes": notes})

    view = f"export_lines_{day.strftime('%Y%m%d')}"
    sql = CLASSIFY_SQL.format(extracted=spark_extracted_lines_sql(view),
                              is_blank=f"(line is null or {SPARK.full_match('line', BLANK_LINE)})",
                              reason=reason_case_sql(dialect=SPARK))
    try:
        parts = [spark.createDataFrame(careful_rows, LINES_SCHEMA)]
        if direct:
            parts.append(_numbered_lines(spark, folder, direct))
        lines = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        lines.createOrReplaceTempView(view)
        classified = (spark.sql(sql, args={"export_day": day}).withColumn("export_date", F.lit(day))
                      .localCheckpoint(eager=True))
    except Exception:
        # Spark reads the files it was given here: one of them removed since the listing failed
        # the read (Spark's own error), which is the day being delivered again, not a fault
        gone = [names[p] for p in direct if not os.path.lexists(p)]
        if gone:
            raise ExportFileGone(gone[0]) from None
        raise
    events = classified.where("reason is null").select(
        "export_date", "file_name", "line_number", "event_id", "event_type", "occurred_at", "assistant_id",
        "channel", "user_id", "conversation_id", "user_agent", "properties")
    rejected = classified.where("reason is not null").selectExpr(
        "export_date", "file_name", "line_number", "line as raw_line", "reason")

    # Lines read per file (the lines Spark itself found not UTF-8 are damage as in the careful path),
    # rejects per reason and loaded answers, from one aggregate: each Spark job costs a fixed time
    direct_names = {p.name for p in direct}
    counts: dict[str, list[int]] = {}
    rejects: dict[str, int] = {}
    answers = 0
    for r in classified.groupBy("file_name", "reason").agg(
            F.count(F.lit(1)).alias("lines"), F.count_if("invalid_utf8").alias("not_utf8"),
            F.count_if(F.expr("reason is null and event_type = 'bot_message'")).alias("answers")).collect():
        file_counts = counts.setdefault(r["file_name"], [0, 0])
        file_counts[0] += r["lines"]
        file_counts[1] += r["not_utf8"]
        if r["reason"] is not None:
            rejects[r["reason"]] = rejects.get(r["reason"], 0) + r["lines"]
        answers += r["answers"]
    for f in files:
        lines_read, not_utf8 = counts.get(f["file_name"], (0, 0))
        if not_utf8 and f["file_name"] in direct_names:
            f["notes"].append(_invalid_utf8_note(not_utf8))
        f["lines_read"] = lines_read
        f["damage"] = "; ".join(f.pop("notes")) or None
    return SparkExportDay(day, classified, events, rejected, files, dict(sorted(rejects.items())), answers)


# The raw tables on Spark: raw.py's tables and columns (JSON as text, instants as `timestamp` in the
# UTC session), each partitioned by export_date, so that loading a day again replaces its folder
# (a dynamic partition overwrite), the Parquet form of the DuckDB loader's delete + insert of the
# day. raw.pending_users is appended to, and emptied after a completed build, as on DuckDB.
SPARK_RAW_TABLES = {
    "events": "export_date date, file_name string, line_number bigint, event_id string, event_type string, "
              "occurred_at timestamp, assistant_id string, channel string, user_id string, "
              "conversation_id string, user_agent string, properties string",
    "answer_owners": "export_date date, assistant_id string, message_id string, user_id string",
    "rejected_lines": "export_date date, file_name string, line_number bigint, raw_line string, reason string",
    "export_files": "export_date date, file_name string, size_bytes bigint, lines_read bigint, damage string",
    "export_days": "export_date date, fingerprint string, files int, lines_read bigint, loaded_at timestamp",
    "pending_users": "export_date date, assistant_id string, user_id string",
    # every user_agent of raw.events parsed by uap-core's rules (user_agents.py), as raw.py keeps it
    "user_agents": "user_agent string, browser string, os_family string, device_family string, parsed_by string",
}
# Replaced per day, in this order: export_days last (its old row removed before the others are
# replaced), so that a load cut short leaves the day with no fingerprint, or its old one with its old
# rows, which the next refresh sees as a day to load again.
DAY_TABLES = ("events", "answer_owners", "rejected_lines", "export_files", "export_days")


def ensure_spark_raw_tables(spark: SparkSession) -> None:
    spark.sql("create database if not exists raw")
    had_user_agents = spark.catalog.tableExists("raw.user_agents")
    for table, columns in SPARK_RAW_TABLES.items():
        partitioned = " partitioned by (export_date)" if table in DAY_TABLES else ""
        spark.sql(f"create table if not exists raw.{table} ({columns}) using parquet{partitioned}")
    _ensure_user_agents(spark, created=not had_user_agents)


# The Spark folders (their warehouse dir) whose raw.user_agents this process has found parsed by
# this parser: the parser cannot change while the process runs, so the check is one Spark job per
# folder and process, not one per load.
_USER_AGENTS_CURRENT: set[str] = set()


def _ensure_user_agents(spark: SparkSession, *, created: bool) -> None:
    """raw.py `ensure_user_agents` on Spark: every user_agent of raw.events, as this parser parses
    it, for a Spark folder loaded before the table existed or after an upgrade of the parser."""
    folder = spark.conf.get("spark.sql.warehouse.dir")
    if not created and folder in _USER_AGENTS_CURRENT:
        return
    by = F.lit(parser_version())
    agents = spark.table("raw.user_agents")
    if not created and agents.where(F.col("parsed_by") != by).isEmpty():
        _USER_AGENTS_CURRENT.add(folder)
        return
    kept = agents.where(F.col("parsed_by") == by).localCheckpoint()
    try:
        _add_user_agents(spark, spark.table("raw.events").select("user_agent"), known=kept, overwrite=True)
    finally:
        _release(kept)
    _USER_AGENTS_CURRENT.add(folder)


def _add_user_agents(spark: SparkSession, user_agents: DataFrame, *, known: DataFrame | None = None,
                     overwrite: bool = False) -> None:
    """The strings of `user_agents` (one column) that `known` (raw.user_agents) lacks, parsed on the
    driver (a handful a day) and added; with `overwrite`, raw.user_agents becomes `known` and them."""
    known = spark.table("raw.user_agents") if known is None else known
    new = [row[0] for row in user_agents.where("user_agent is not null").distinct()
           .join(known.select("user_agent"), "user_agent", "left_anti").collect()]
    rows = spark.createDataFrame(parsed(new), SPARK_RAW_TABLES["user_agents"])
    if overwrite:
        _insert(spark, "user_agents", known.unionByName(rows), overwrite=True)
    elif new:
        _insert(spark, "user_agents", rows)


def _agents_of(events: DataFrame) -> set[str]:
    return {row[0] for row in events.where("user_agent is not null").select("user_agent").distinct().collect()}


def _drop_unused_agents(spark: SparkSession, candidates: set[str]) -> None:
    """raw.py DROP_UNUSED_AGENTS_SQL: the strings of a reloaded day's old copy that no event of
    raw.events holds any more leave raw.user_agents (a small table, rewritten whole)."""
    if not candidates:
        return
    unused = candidates - _agents_of(spark.table("raw.events").where(F.col("user_agent").isin(list(candidates))))
    if not unused:
        return
    kept = spark.table("raw.user_agents").where(~F.col("user_agent").isin(list(unused))).localCheckpoint()
    try:
        _insert(spark, "user_agents", kept, overwrite=True)
    finally:
        _release(kept)


def _pending_users(copies: DataFrame, owners: DataFrame, day: dt.date) -> DataFrame:
    """raw.py PENDING_USERS_SQL over these tables: the users of every copy of the day's events
    (`copies`, from _copies_before_and_after), and the owners of every answer that a copy of the
    day's feedback events rates. raw.py finds those feedback events as the feedback rows of
    raw.events whose event_id is a feedback copy's; each such row is itself a copy (its event_id is
    one of the day's), so they are the feedback rows of `copies`."""
    rated_messages = (copies.where("event_type = 'feedback'")
                      .selectExpr("assistant_id", "get_json_object(properties, '$.message_id') as message_id")
                      .distinct())
    rated_owners = owners.join(rated_messages, ["assistant_id", "message_id"], "left_semi")
    return (copies.select("assistant_id", "user_id").unionByName(rated_owners.select("assistant_id", "user_id"))
            .distinct().select(F.lit(day).alias("export_date"), "assistant_id", "user_id"))


@contextmanager
def _copies_before_and_after(spark: SparkSession, day_events: DataFrame, day: dt.date):
    """Every copy, in any export day, of an event the day holds (raw.py COPIES_OF_DAY_SQL): with the
    tables as they are, and with `day_events` in place of the day's rows. Both come from one scan
    of raw.events (the rows whose event_id is one of the day's, old or new), kept (a local
    checkpoint) for the steps after it and released on leaving: each scan of a table costs Spark
    a fixed time, whatever its size."""
    events = spark.table("raw.events")
    old_ids = events.where(F.col("export_date") == F.lit(day)).select("event_id")
    new_ids = day_events.select("event_id")
    candidates = events.join(old_ids.unionByName(new_ids).distinct(), "event_id", "left_semi").localCheckpoint()
    try:
        other_days = F.col("export_date") != F.lit(day)
        yield (candidates.join(candidates.where(~other_days).select("event_id"), "event_id", "left_semi"),
               candidates.where(other_days).unionByName(day_events).join(new_ids, "event_id", "left_semi"))
    finally:
        _release(candidates)


def _duplicates(copies: DataFrame, day: dt.date) -> int:
    """raw.py DUPLICATES_SQL over the day's copies: a copy in the day is a duplicate unless it is the
    event's first copy."""
    row = (copies.groupBy("event_id")
           .agg(F.count_if(F.col("export_date") == F.lit(day)).alias("in_day"), F.min("export_date").alias("first"))
           .where("in_day > 0")
           .select(F.sum(F.col("in_day") - F.when(F.col("first") == F.lit(day), 1).otherwise(0))).first())
    return int(row[0] or 0)


def _insert(spark: SparkSession, table: str, rows: DataFrame, *, overwrite: bool = False) -> None:
    """Rows into raw.<table> by column name (insertInto maps columns by position, and a partitioned
    table has its partition column last)."""
    columns = spark.table(f"raw.{table}").columns
    rows.select(*columns).write.insertInto(f"raw.{table}", overwrite=overwrite)


def _replace_day(spark: SparkSession, table: str, rows: DataFrame, day: dt.date, has_rows: bool) -> None:
    """The day's folder of raw.<table> replaced by `rows`. A dynamic partition overwrite replaces the
    partitions it writes rows to, so a day left with no row of the table is dropped instead."""
    if has_rows:
        _insert(spark, table, rows, overwrite=True)
    else:
        _drop_day(spark, table, day)


def _drop_day(spark: SparkSession, table: str, day: dt.date) -> None:
    spark.sql(f"alter table raw.{table} drop if exists partition (export_date = date'{day.isoformat()}')")


def load_export_day_spark(spark: SparkSession, exports_dir: Path, day: dt.date):
    """Loads (or re-loads) export day `day` into Spark's raw tables, as raw.py's `load_export_day`
    loads it into DuckDB's: the same rows in every table, the same pending users and counts.

    Spark has no transaction over several tables. The pending users of the day's old and new rows
    are appended first (both computed from the tables as they are and as they will be), then the
    day's partitions are replaced, the day's raw.export_days row removed first and written last: a
    load cut short leaves at most users pending for nothing, and the day with its old rows and
    fingerprint or with none (build/spark_job.py `days_behind` finds it), never with new rows under
    the old fingerprint.
    """
    from .raw import LoadStats

    started = time.perf_counter()
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    ensure_spark_raw_tables(spark)
    delivered = fingerprint(check_export_day(exports_dir, day))  # before any file is read: raw.py says why
    try:
        judged = classify_export_day(spark, exports_dir, day)
    except ExportFileGone as gone:  # the day left as it was (raw.py's load_export_day says why)
        why = removed_while_read(day_folder(exports_dir, day), gone.name)
        return LoadStats(export_date=day, not_loaded_because=why, seconds=time.perf_counter() - started)
    try:
        stats = LoadStats(export_date=day, files=len(judged.export_files),
                          changed_while_read=changed_since(day_folder(exports_dir, day), delivered))
        stats.lines_read = sum(f["lines_read"] for f in judged.export_files)
        stats.damaged_files = [f"{f['file_name']}: {f['damage']}" for f in judged.export_files if f["damage"]]
        stats.rejects_by_reason = judged.rejects_by_reason
        stats.lines_rejected = sum(stats.rejects_by_reason.values())
        stats.events_valid = stats.lines_read - stats.lines_rejected
        owners_new = judged.classified.where("reason is null and event_type = 'bot_message'").select(
            "export_date", "assistant_id", "message_id", "user_id")
        files = spark.createDataFrame(
            [(day, f["file_name"], f["size_bytes"], f["lines_read"], f["damage"]) for f in judged.export_files],
            "export_date date, file_name string, size_bytes bigint, lines_read bigint, damage string")
        export_day = spark.createDataFrame(
            [(day, delivered, stats.files, stats.lines_read)],
            "export_date date, fingerprint string, files int, lines_read bigint",
        ).withColumn("loaded_at", F.current_timestamp())
        new = {"events": (judged.events, stats.events_valid > 0),
               "answer_owners": (owners_new, judged.answers > 0),
               "rejected_lines": (judged.rejected_lines, stats.lines_rejected > 0),
               "export_files": (files, stats.files > 0),
               "export_days": (export_day, True)}

        owners = spark.table("raw.answer_owners")
        owners_after = owners.where(F.col("export_date") != F.lit(day)).unionByName(owners_new)
        with _copies_before_and_after(spark, judged.events, day) as (copies_before, copies_after):
            # the users of the day's old copy and of its new one, each set distinct, as raw.py's two inserts
            _insert(spark, "pending_users", _pending_users(copies_before, owners, day).unionAll(
                _pending_users(copies_after, owners_after, day)))
            stats.duplicates = _duplicates(copies_after, day)
        _add_user_agents(spark, judged.events.select("user_agent"))
        replaced_agents = _agents_of(spark.table("raw.events").where(F.col("export_date") == F.lit(day)))
        # The day's old fingerprint goes first: a load cut short among the writes below (a Ctrl-C)
        # leaves Spark's raw tables a mix of the day's old and new rows, which a day still marked
        # with its old fingerprint would hide from the check that loads it again (spark_job.days_behind).
        _drop_day(spark, "export_days", day)
        for table in DAY_TABLES:
            rows, has_rows = new[table]
            _replace_day(spark, table, rows, day, has_rows)
        if replaced_agents:  # a day loaded before
            _drop_unused_agents(spark, replaced_agents - _agents_of(judged.events))
        stats.pending_users = spark.table("raw.pending_users").select("assistant_id", "user_id").distinct().count()
    finally:
        judged.release()
    stats.seconds = time.perf_counter() - started
    return stats
