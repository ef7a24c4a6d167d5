"""A dbt process started ahead of its build (docs/refresh.md, "A dbt made ready ahead").

A refresh runs `dbt build` as a process of its own (dagster-dbt starts `assistant-analytics-dbt`,
dbt_child.py), and that process spends seconds importing dbt before it reads the project: time in
which the refresh waits. So the refresh starts one more process first thing (`WarmDbt`), which
imports dbt while the refresh's own process imports Dagster and loads the export days, then waits.
When dagster-dbt starts `assistant-analytics-dbt build ...`, that process does not import dbt: it
hands its command line, environment, working directory and standard streams to the waiting one,
which becomes the dbt of that build (it writes the events to dagster-dbt's pipe itself), and it
relays Ctrl-C and the exit status. The waiting process takes one build, then ends; a refresh of
several runs starts another before a run once the last one has taken its build.

On Spark the waiting process runs the run's Spark loads too (`kind` SPARK_LOAD, from
spark_job.py, handed over the same way), before its build: the loader's Spark stays in that
process, and dbt's Spark target, started there, is that same Spark. A run starts one JVM, not two,
and dbt's queries run in a JVM that the load has warmed.

Without a waiting process (a run launched from Dagster's UI, a platform without Linux's abstract
sockets, a process that failed to start), `assistant-analytics-dbt` runs dbt itself, as before.

Who may hand a build over: a process of the same user whose parent is the refresh's process (the
one dagster-dbt starts), checked by the kernel's peer credentials; the socket's name carries the
refresh's process id. Both processes end with the refresh's (child_process.end_with_parent), and the
waiting one ends when the process that handed it a command ends before it (killed by Dagster, say).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading

LISTENING = b"listening\n"
WAIT_FOR_BUILD = "--wait-for-build"  # dbt_child's argument for the waiting process (no dbt flag)
DBT_BUILD, SPARK_LOAD = "dbt", "spark-load"  # what a command handed over is
_MAX_REQUEST_BYTES = 1 << 20
_FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _socket_name(refresh_pid: int) -> str:
    # Linux's abstract namespace: no file to clean up, gone when the listening socket closes
    return f"\0assistant-analytics-dbt-{os.getuid()}-{refresh_pid}"


def _available() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


class WarmDbt:
    """The refresh's side: a process importing dbt from now on, for the next `assistant-analytics-dbt`
    this process starts. `ready_for_next_build()` before each run; leaving the `with` ends one that
    no build took."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        if _available():
            # stderr too: what it would print before it takes a build is nobody's business (a
            # process that failed is not there to take one, and dbt runs in dbt_child as before)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.build.dbt_child", WAIT_FOR_BUILD],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def wait_until_listening(self) -> bool:
        """The waiting process's socket is there (it says so on its stdout once bound, well before it
        has imported dbt), or it ended. Not waited for at its start, so that this process's own
        imports begin at once; a build that starts dbt before it listens runs dbt cold."""
        if self._process is None:
            return False
        if self._process.stdout.closed:  # read before: it listened, and is still there if not ended
            return self._process.poll() is None
        with self._process.stdout:
            return self._process.stdout.readline() == LISTENING

    def ready_for_next_build(self) -> bool:
        """Before a run: a new waiting process if the last one is gone (it took a build: the last
        run's, or `dbt parse` of a project that changed), then until it listens."""
        if self._process is not None and self._process.poll() is not None:
            self.stop()
            self._start()
        return self.wait_until_listening()

    def killed_by(self) -> int | None:
        """The signal that ended the waiting process (it ran the last run's build), if one did: dbt
        killed from outside, which the process that handed it the build cannot tell."""
        if self._process is None or self._process.poll() is None or self._process.returncode >= 0:
            return None
        return -self._process.returncode

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()  # still waiting (no build took it): it has done nothing yet
        self._process.wait()
        self._process.stdout.close()
        self._process = None

    def __enter__(self) -> WarmDbt:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def hand_over(argv: list[str], kind: str = DBT_BUILD) -> int | None:
    """In `assistant-analytics-dbt`: runs `dbt <argv>` in the waiting dbt of the refresh that
    started this process (in the Spark loader's job: the load, `kind` SPARK_LOAD); its exit status,
    or None when there is none (run it here instead)."""
    if not _available():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(_socket_name(os.getppid()))
        request = json.dumps({"kind": kind, "argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(conn, [request], [0, 1, 2])
        reply = conn.recv(4096)
    except OSError:
        conn.close()
        return None
    if not reply:  # refused, or ended before it started dbt: nothing ran
        conn.close()
        return None
    dbt_pid = json.loads(reply)["pid"]
    for signum in _FORWARDED_SIGNALS:
        signal.signal(signum, lambda received, _frame: os.kill(dbt_pid, received))
    status = conn.recv(64)
    # then the end of that process (its last connection and file closed) before this one ends:
    # the refresh goes on with the build file as soon as this process ends (a load: the end of
    # the load, which leaves the process waiting for the build)
    while conn.recv(64):
        pass
    conn.close()
    if not status:
        print("assistant-analytics-dbt: the dbt process ended without an exit status", file=sys.stderr)
        return 1
    return int(status)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")"
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _accept_sibling(listener: socket.socket) -> socket.socket:
    """The next connection from a process of this user that the refresh started (a sibling)."""
    creds_size = struct.calcsize("3i")
    while True:
        conn, _ = listener.accept()
        pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, creds_size))
        if uid == os.getuid() and _parent_of(pid) == os.getppid():
            return conn
        conn.close()


def listen() -> socket.socket:
    """The waiting process's socket, named for the refresh that started it (its parent). Bound before
    dbt is imported: a build that comes early waits in the backlog."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(_socket_name(os.getppid()))
    listener.listen(1)
    os.write(1, LISTENING)  # to WarmDbt.wait_until_listening, through the pipe that stdout is until a build
    return listener


class Handed:
    """The next command handed over to this process (`kind`, `argv`: dbt's command line, or the
    Spark loader's arguments); its caller's working directory and environment are now this
    process's, and its standard streams are taken (a build, for good) or lent (a load);
    `finish` reports the exit status."""

    def __init__(self, listener: socket.socket) -> None:
        while True:
            conn = _accept_sibling(listener)
            message, fds, _flags, _address = socket.recv_fds(conn, _MAX_REQUEST_BYTES, 3)
            request = json.loads(message)
            if request.get("kind") in (DBT_BUILD, SPARK_LOAD) and len(fds) == 3:
                break
            for fd in fds:  # not a command of this version: its caller runs it itself
                os.close(fd)
            conn.close()
        self.kind: str = request["kind"]
        self.argv: list[str] = request["argv"]
        self._fds = fds  # stdin, stdout (dagster-dbt's pipe, or the loader's) and stderr
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        self._conn = conn
        self._finished = threading.Event()
        self._watcher = threading.Thread(target=self._end_with_client, daemon=True)
        self._watcher.start()
        conn.send(json.dumps({"pid": os.getpid()}).encode())

    def take_streams(self) -> None:
        """The caller's standard streams become this process's (a build: the process ends after it)."""
        for target, fd in enumerate(self._fds):
            os.dup2(fd, target)
            os.close(fd)

    @contextlib.contextmanager
    def streams_lent(self):
        """The caller's standard streams are this process's for the `with`, then its own again; the
        caller's stdout reaches its end of file once what ran here closes its copies."""
        sys.stdout.flush()
        sys.stderr.flush()
        own = [os.dup(target) for target in range(3)]
        self.take_streams()
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for target, fd in enumerate(own):
                os.dup2(fd, target)
                os.close(fd)

    def finish(self, status: int) -> None:
        """The exit status to the caller. After a build the caller then waits for this process to
        end; after a load the connection ends here, and this process waits for the next command."""
        sys.stdout.flush()
        sys.stderr.flush()
        self._finished.set()
        self._conn.send(str(status).encode())
        if self.kind == SPARK_LOAD:
            self._conn.shutdown(socket.SHUT_RDWR)  # the caller's end of file; the watcher's too
            self._watcher.join()
            self._conn.close()

    def _end_with_client(self) -> None:
        """The process that handed the command over ended first (killed): it ends here too, as it
        would have there."""
        while self._conn.recv(64):
            pass
        if not self._finished.is_set():
            os._exit(1)
