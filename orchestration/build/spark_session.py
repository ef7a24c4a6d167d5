"""The Spark engine's folder and its Spark configuration, from one place (docs/spark.md).

Two processes start a Spark for a refresh, one after the other: the Spark loader's job
(orchestration/build/spark_job.py) and dbt (profiles.yml's `spark` target, dbt-spark's session
method, inside dbt's process). Both must see the same tables: the same warehouse folder and the
same Derby metastore, which one process at a time can open. So the loader takes its settings from
the profile's `spark` target (`server_side_parameters`, rendered by dbt with the same `spark_dir`
var a refresh gives dbt): profiles.yml stays the one place where Spark is configured.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from ..errors import UserError
from ..files import replace_file_or_skip
from ..settings import PROJECT_ROOT, spark_class_archive_dir, user_cache_dir

# A path that goes into Spark SQL as a literal and into the JVM's options (split as a shell splits
# them): no quote of either kind, backslash or control character.
_SAFE_PATH = re.compile(r"[^'\"\\\x00-\x1f]+")


def check_spark_dir(spark_dir: Path) -> Path:
    """The Spark folder, absolute, refused before any file is written or any process started when
    Spark could not use it: its path goes into Spark SQL as a literal (no quote) and into the JVM's
    options, which Spark splits at blanks (no white space: Derby's home would be cut there), and it
    must be a folder (Derby cannot make its metastore in a file)."""
    spark_dir = spark_dir.resolve()
    if not _SAFE_PATH.fullmatch(str(spark_dir)):
        raise UserError(f"the Spark folder's path must not contain quotes, backslashes or control characters: "
                        f"{str(spark_dir)!r}")
    if any(ch.isspace() for ch in str(spark_dir)):
        raise UserError(f"the Spark folder's path must not contain blanks (Spark splits its Java options at "
                        f"them): {str(spark_dir)!r}; move the warehouse to a path without them")
    if any(ch in str(spark_dir) for ch in "*?[{"):
        # DuckDB (the copy of Spark's tables into the build file) and Hadoop read these as patterns
        raise UserError(f"the Spark folder's path must not contain * ? [ or {{, which its readers take as a "
                        f"pattern: {str(spark_dir)!r}; move the warehouse to a path without them")
    if spark_dir.exists() and not spark_dir.is_dir():
        raise UserError(f"the Spark folder {spark_dir} is a file: Spark keeps its tables and metastore in a "
                        "folder of that name beside the warehouse; move the file away")
    return spark_dir


def spark_conf(spark_dir: Path) -> dict[str, str]:
    """The `spark` target's Spark settings (profiles.yml `server_side_parameters`) for this folder,
    rendered as dbt renders them for a refresh (var spark_dir given, so no environment is read)."""
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context({})
    raw = read_profile(str(PROJECT_ROOT))["assistant_analytics"]["outputs"]["spark"]
    rendered = ProfileRenderer({"spark_dir": str(spark_dir)}).render_data(raw)
    return {str(k): str(v) for k, v in rendered["server_side_parameters"].items()}


def start_spark(spark_dir: Path, app_name: str, overrides: dict[str, str] | None = None, *,
                may_write_class_archive: bool = True):
    """A SparkSession as dbt-spark's session method starts it (Hive catalog, the profile's settings),
    plus `overrides`. A JVM started here reads the class archive, or writes it when it ends if there
    is none yet and `may_write_class_archive` (a process that ends after its run: see
    `end_spark_jvm`)."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport().appName(app_name)
    # Python workers (createDataFrame of the careful path's rows) run this Python, not the first
    # python3 on PATH, which may be another version
    conf = {**spark_conf(spark_dir), "spark.pyspark.python": sys.executable, **(overrides or {})}
    if SparkContext._active_spark_context is None:  # else getOrCreate returns it: no JVM starts
        jar = file_system_jar(user_cache_dir())
        if jar is not None:
            conf["spark.hadoop.fs.file.impl"] = FILE_SYSTEM_CLASS
            conf["spark.driver.extraClassPath"] = os.pathsep.join(
                p for p in (str(jar), conf.get("spark.driver.extraClassPath", "")) if p)
        archive_options, _ = class_archive_options(
            spark_class_archive_dir(), may_write_class_archive, conf.get("spark.driver.extraClassPath", ""))
        if archive_options:
            conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {archive_options}"
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# Class data sharing (docs/spark.md): a Spark JVM spends seconds of its start and of its first
# queries loading and verifying the same classes from Spark's jars. The JVM can map them from an
# archive instead, which a JVM writes when it ends (-XX:ArchiveClassesAtExit). The archive belongs to
# one Java runtime and one Spark install (its file name says which); it is kept in the user's cache
# folder and shared by every warehouse. The JVM checks an archive before it uses it and runs without
# one otherwise. Its messages about the archive are off, and its other warnings go to stderr, not
# to stdout (the JVM's stdout is dbt's, which dagster-dbt parses).
_JVM_QUIET = "-Xlog:disable -Xlog:all=warning:stderr -Xlog:cds*=off:stderr"
# A dynamic archive's header (CDS_DYNAMIC_ARCHIVE_MAGIC), which the JVM writes last: a file without
# it is still being written, or was left half-written by a JVM that was killed.
_DYNAMIC_ARCHIVE_MAGIC = (0xF00BABA8).to_bytes(4, "little")
# A claim older than this is a writer that was killed before it wrote the archive: claimed again.
_CLAIM_STALE_SECONDS = 3600.0
_OPTION_SAFE_PATH = re.compile(r"[^\s'\"\\]+")


def _java_runtime() -> Path:
    """The `java` that Spark's launcher runs: JAVA_HOME's, else the one on PATH (links resolved)."""
    java_home = os.environ.get("JAVA_HOME", "")
    java = Path(java_home) / "bin" / "java" if java_home else Path(shutil.which("java") or "java")
    return java.resolve()


def _file_stamp(path: Path) -> list[str]:
    stat = path.stat() if path.exists() else None
    return [str(path), str(stat and stat.st_size), str(stat and stat.st_mtime_ns)]


def _spark_home() -> Path:
    """The SPARK_HOME that pyspark's launcher finds."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()).resolve()


def _spark_install_stamps(spark_home: Path) -> list[str]:
    """The Spark install: its version, its folder and every jar of its class path."""
    import pyspark

    return [pyspark.__version__, str(spark_home), *_jar_stamps(spark_home / "jars")]


def _digest(identity: list[str]) -> str:
    return hashlib.sha256(chr(0).join(identity).encode()).hexdigest()[:16]


def class_archive_path(folder: Path, class_path: str = "") -> Path:
    """The archive for this Java runtime (JAVA_HOME's, else the `java` on PATH, as Spark's launcher
    picks it), this Spark install (the SPARK_HOME that pyspark's launcher finds: its version and
    every jar of its class path, by size and modification time) and what `class_path` puts before
    Spark's jars. The JVM checks each jar of an archive's class path by size and modification time
    and, where one differs, runs without the archive; so a Spark installed again (a venv made again
    in the same place) gets an archive of its own rather than one that no JVM would ever read
    again."""
    identity = [*_file_stamp(_java_runtime()), *_spark_install_stamps(_spark_home()),
                *(stamp for entry in class_path.split(os.pathsep) if entry for stamp in _file_stamp(Path(entry)))]
    return folder / f"spark-classes-{_digest(identity)}.jsa"


def _jar_stamps(jars: Path) -> list[str]:
    """Each jar of Spark's class path as the JVM checks it against an archive: name, size and
    modification time."""
    try:
        entries = sorted(os.scandir(jars), key=lambda entry: entry.name)
    except OSError:
        return []
    stamps = []
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:  # removed meanwhile
            continue
        stamps.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return stamps


def class_archive_options(folder: Path | None, may_write: bool, class_path: str = "") -> tuple[str, bool]:
    """The JVM options for the class archive in `folder` (None: none) of a JVM with `class_path`
    before Spark's jars, and whether the JVM they start writes it: read it when it is complete; else
    write it, if this caller may and no other JVM has claimed it (a claim file, created atomically);
    else nothing."""
    if folder is None:
        return "", False
    archive = class_archive_path(folder, class_path)
    if not _OPTION_SAFE_PATH.fullmatch(str(archive)):
        return "", False  # Spark splits its Java options at blanks: such a cache folder goes without
    claim = archive.with_name(archive.name + ".claim")
    try:
        with open(archive, "rb") as f:
            complete = f.read(4) == _DYNAMIC_ARCHIVE_MAGIC
    except OSError:
        complete = False
    if complete:
        claim.unlink(missing_ok=True)
        return f"-XX:SharedArchiveFile={archive} {_JVM_QUIET}", False
    if not may_write or not _claim(claim):
        return "", False
    _remove_archives_of_removed_installs(folder)
    with contextlib.suppress(OSError):
        archive.with_name(archive.name + ".source").write_text(f"{_spark_home()}\n", encoding="utf-8")
    return f"-XX:ArchiveClassesAtExit={archive} {_JVM_QUIET}", True


def _remove_archives_of_removed_installs(folder: Path) -> None:
    """Each archive's `.source` names the Spark home it was made for: an archive whose Spark home
    is gone (its venv removed) is never read again, and goes when a new one is written (each is a
    few hundred MB; a venv made anew, as a clean clone's is, makes one)."""
    for source in folder.glob("spark-classes-*.jsa.source"):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            home = Path(source.read_text(encoding="utf-8").strip())
            if home.is_absolute() and not home.exists():
                archive = source.with_name(source.name.removesuffix(".source"))
                for path in (archive, archive.with_name(archive.name + ".claim"), source):
                    path.unlink(missing_ok=True)


def _claim(claim: Path) -> bool:
    try:
        claim.parent.mkdir(parents=True, exist_ok=True)
        if claim.exists() and time.time() - claim.stat().st_mtime > _CLAIM_STALE_SECONDS:
            claim.unlink(missing_ok=True)
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except OSError:  # claimed by another JVM meanwhile, or the folder is not writable
        return False


def end_spark_jvm(timeout: float = 600.0) -> None:
    """If this process started a Spark JVM (the loader's, or dbt-spark's) that still runs: ends it now
    and waits, before the process tells its run that it is done. A JVM left ending after the run
    (its shutdown hooks, or writing the class archive) would still hold the Derby metastore, and a
    Spark run started meanwhile could not open it; a failed run's JVM was seen running seconds after
    the refresh had exited."""
    if "pyspark" not in sys.modules:  # no Spark in this process (a DuckDB run): nothing to import
        return
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)  # None: no JVM, or one this process attached to
    if proc is None or proc.poll() is not None:
        return
    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    proc.stdin.close()  # pyspark's gateway server exits the JVM when its stdin ends
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# Hadoop's local file system without a process per file (docs/spark.md, "Permissions set inside the
# JVM"): pyspark ships no Hadoop native library, so Hadoop sets the permissions of every file and
# folder Spark writes by running `chmod`, a process each, most of the processes a local run starts.
# InProcessChmodFileSystem (java/) sets the same bits inside the JVM. Its jar is compiled once per
# Java and Spark install, by the javac of the Java runtime Spark runs on, into the user's cache
# folder; without a javac there (a Java runtime without its JDK), Spark keeps the profile's
# RawLocalFileSystem and its chmod processes.
FILE_SYSTEM_CLASS = "assistant_analytics.spark.InProcessChmodFileSystem"
_FILE_SYSTEM_SOURCE = Path(__file__).with_name("java") / "InProcessChmodFileSystem.java"
_JAVAC_TIMEOUT_SECONDS = 300


def file_system_jar(folder: Path) -> Path | None:
    """The jar of FILE_SYSTEM_CLASS for this Java runtime and Spark install in `folder`, compiled
    there first if it is not yet; None if it cannot be (no javac beside the runtime's java, a
    folder that is not writable, a compile error) or if its path cannot go on a class path."""
    javac = _java_runtime().with_name("javac")
    spark_home = _spark_home()
    try:
        source = _FILE_SYSTEM_SOURCE.read_bytes()
        identity = [source.hex(), *_file_stamp(javac), *_spark_install_stamps(spark_home)]
        jar = folder / f"spark-file-system-{_digest(identity)}.jar"
        if not _OPTION_SAFE_PATH.fullmatch(str(jar)) or os.pathsep in str(jar):
            return None
        if jar.exists():
            return jar
        if not javac.exists():
            return None
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="aa-javac-") as classes:
            hadoop = sorted((spark_home / "jars").glob("hadoop-client-api-*.jar")) or [spark_home / "jars" / "*"]
            subprocess.run([str(javac), "-nowarn", "-cp", os.pathsep.join(map(str, hadoop)), "-d", classes,
                            str(_FILE_SYSTEM_SOURCE)],
                           check=True, capture_output=True, timeout=_JAVAC_TIMEOUT_SECONDS)
            packed = io.BytesIO()
            with zipfile.ZipFile(packed, "w") as archive:
                for path in sorted(Path(classes).rglob("*.class")):
                    archive.write(path, path.relative_to(classes).as_posix())
        # whole or not at all: two runs that build it at once each put a whole jar in place
        replace_file_or_skip(jar, packed.getvalue())
        return jar if jar.exists() else None
    except (OSError, subprocess.SubprocessError):
        return None
