"""The MCP stdio transport: a server subprocess speaking newline-delimited JSON-RPC.

MCP basic/transports "stdio": one UTF-8 JSON-RPC message per line on stdin/stdout; stderr is
free-form logging. The server runs in its own session (so its whole process group can be
signalled), with a minimal environment as the official client gives it. A reader thread
parses stdout; a drain thread logs stderr and keeps a bounded tail for error messages; a
watcher thread notices the exit. This module is the ONLY place where OSError and subprocess
errors are translated into :mod:`syncclients.errors`.

Memory is bounded whatever the server writes: a stdout message is at most
``max_message_bytes`` (a longer line breaks the connection with
:class:`~syncclients.errors.ConnectionLostError`), and stderr is read in chunks of which we
keep at most ``stderr_tail_lines`` lines of :data:`STDERR_LINE_BYTES` bytes each, also when
the server never writes a newline.

On Linux the watcher notices the server's exit without reaping it (``waitid`` with
``WNOWAIT``), so the server's process id, which is also its process group id, cannot be
reused until :meth:`StdioTransport.close` has signalled the group and reaped the server:
the group is signalled even after the server exited on its own, and children it left
behind go with it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..errors import (
    ConnectError,
    ConnectionLostError,
    ProtocolError,
    ServerExitedError,
    TransportError,
    UsageError,
)
from ..mcp.messages import Message, decode, encode
from ..mcp.transport import MessageSink, SendContext, Transport
from ..redact import redact_command

__all__ = ["DEFAULT_INHERITED_ENV_VARS", "ResourceLimits", "StdioTransport", "default_environment"]

logger = logging.getLogger("syncclients.transports.stdio")
stderr_logger = logging.getLogger("syncclients.transports.stdio.stderr")

#: Variables copied from the parent's environment, as the official MCP clients do.
DEFAULT_INHERITED_ENV_VARS: tuple[str, ...] = (
    ("APPDATA", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA", "PATH", "PROCESSOR_ARCHITECTURE",
     "SYSTEMDRIVE", "SYSTEMROOT", "TEMP", "USERNAME", "USERPROFILE")
    if sys.platform == "win32"
    else ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
)  # fmt: skip

#: Default longest stdout line (one JSON-RPC message) accepted, in bytes; a longer line
#: breaks the connection (``max_message_bytes`` overrides it per transport).
MAX_LINE_BYTES = 64 * 1024 * 1024

#: Longest stderr line kept or logged, in bytes (the rest of a longer line is dropped).
STDERR_LINE_BYTES = 2000

#: Bytes read from stderr at a time.
_STDERR_CHUNK = 64 * 1024

#: Seconds between checks of whether the server's process group is empty, during close.
_POLL_S = 0.02

#: Notice the exit without reaping (Linux): the group id stays reserved until close().
_KEEP_ZOMBIE = sys.platform.startswith("linux") and hasattr(os, "waitid")


def default_environment() -> dict[str, str]:
    """The minimal environment a server starts with (before the caller's additions).

    Returns:
        ``{name: value}`` for each of :data:`DEFAULT_INHERITED_ENV_VARS` that is set, skipping
        values that start with ``()`` (exported shell functions), as the official client does.
    """
    env: dict[str, str] = {}
    for key in DEFAULT_INHERITED_ENV_VARS:
        value = os.environ.get(key)
        if value is not None and not value.startswith("()"):
            env[key] = value
    return env


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Resource limits applied in a stdio server's process before it runs (POSIX
    ``setrlimit``; soft and hard limit both set, so the server cannot raise them again).

    Attributes:
        memory_bytes: the most virtual memory (``RLIMIT_AS``), in bytes; None: unchanged.
        cpu_s: the most CPU time (``RLIMIT_CPU``), in whole seconds; the kernel sends
            SIGXCPU, then SIGKILL; None: unchanged.
        open_files: the most open file descriptors (``RLIMIT_NOFILE``); None: unchanged.
    """

    memory_bytes: int | None = None
    cpu_s: int | None = None
    open_files: int | None = None

    def __post_init__(self) -> None:
        for label in ("memory_bytes", "cpu_s", "open_files"):
            value = getattr(self, label)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise UsageError(f"{label} must be an int >= 1 or None, got {value!r}")

    @classmethod
    def from_config(cls, value: Any, where: str = "limits") -> ResourceLimits | None:
        """Limits from an ``mcpServers`` entry's ``"limits"`` object:
        ``{"memoryMB": 512, "cpuSeconds": 60, "openFiles": 256}`` (each optional).

        Returns:
            The limits, or None when ``value`` is None or empty.

        Raises:
            UsageError: not an object, an unknown key, or a value that is not an int >= 1.
        """
        if not value:
            return None
        if not isinstance(value, Mapping):
            raise UsageError(f"{where}: must be an object")
        unknown = set(value) - {"memoryMB", "cpuSeconds", "openFiles"}
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {sorted(unknown)} (known: memoryMB, cpuSeconds, "
                "openFiles)"
            )
        memory = value.get("memoryMB")
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int)):
            raise UsageError(f"{where}: memoryMB must be an int >= 1, got {memory!r}")
        return cls(
            memory_bytes=None if memory is None else memory * 1024 * 1024,
            cpu_s=value.get("cpuSeconds"),
            open_files=value.get("openFiles"),
        )

    def preexec(self) -> Callable[[], None]:
        """A ``preexec_fn`` that applies the limits in the child (between fork and exec).

        It only calls ``resource.setrlimit`` with values computed here beforehand, so the
        child takes no lock between fork and exec.

        Raises:
            UsageError: resource limits are not supported on this platform (Windows).
        """
        try:
            import resource
        except ImportError:  # pragma: no cover - Windows
            raise UsageError("resource limits need a POSIX system") from None
        pairs = [
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_s),
            (resource.RLIMIT_NOFILE, self.open_files),
        ]
        todo = tuple((which, (value, value)) for which, value in pairs if value is not None)
        setrlimit = resource.setrlimit

        def apply() -> None:
            for which, limit in todo:
                setrlimit(which, limit)

        return apply


class StdioTransport(Transport):
    """Runs an MCP server as a subprocess and exchanges messages over its stdin/stdout.

    Args:
        command: the program and its arguments, e.g. ``["python", "server.py"]``.
        env: variables added to (and overriding) the minimal environment; None: none added.
        cwd: the server's working directory; None: ours. A directory that does not exist
            fails the start with ConnectError.
        limits: resource limits applied in the server's process; None: none.
        stderr_tail_lines: how many of the server's last stderr lines are kept for errors
            (each at most :data:`STDERR_LINE_BYTES` bytes, so the tail is bounded in bytes).
        shutdown_grace_s: the most seconds to wait after closing stdin, and again after
            SIGTERM, before escalating (MCP "stdio" shutdown: close stdin, SIGTERM, SIGKILL).
        close_timeout_s: the most seconds :meth:`close` takes in all (every step above, the
            final reap and joining the threads).
        exit_grace_s: after the process exits, the most seconds to wait for stdout to reach
            end of file before in-flight calls are failed (grandchildren holding the pipe).
        max_message_bytes: the longest stdout line (one JSON-RPC message) accepted, in
            bytes; a longer one breaks the connection (calls in flight and later calls get
            :class:`~syncclients.errors.ConnectionLostError`). None: :data:`MAX_LINE_BYTES`.
        name: the server's name for errors and logs (``.target``); None: the command line.
        secret_values: ``{VAR: value}`` of values expanded from ``${VAR}`` in a config file,
            shown as ``${VAR}`` wherever the command line is printed (values after
            ``--token``-like flags are hidden anyway, see :mod:`syncclients.redact`).

    Raises:
        UsageError: ``command`` is empty or not a list of strings.
    """

    network_transport = "pipe"

    probe_timeout_means_legacy = True

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        limits: ResourceLimits | None = None,
        stderr_tail_lines: int = 40,
        shutdown_grace_s: float = 2.0,
        close_timeout_s: float = 5.0,
        exit_grace_s: float = 0.25,
        max_message_bytes: int | None = None,
        name: str | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
            raise UsageError(f"command must be a non-empty list of strings, got {command!r}")
        if env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise UsageError("env must map strings to strings")
        for label, value in (
            ("shutdown_grace_s", shutdown_grace_s),
            ("close_timeout_s", close_timeout_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UsageError(f"{label} must be a number of seconds >= 0, got {value!r}")
        if max_message_bytes is not None and (
            isinstance(max_message_bytes, bool)
            or not isinstance(max_message_bytes, int)
            or max_message_bytes < 1
        ):
            raise UsageError(f"max_message_bytes must be an int >= 1, got {max_message_bytes!r}")
        self.command = list(command)
        self.env = dict(env or {})
        self.cwd = None if cwd is None else os.fspath(cwd)
        if limits is not None and not isinstance(limits, ResourceLimits):
            raise UsageError(f"limits must be a ResourceLimits, got {limits!r}")
        self.limits = limits
        self.command_line = redact_command(self.command, known=secret_values, limit=120)
        self.target = name or self.command_line
        self.shutdown_grace_s = shutdown_grace_s
        self.close_timeout_s = close_timeout_s
        self.exit_grace_s = exit_grace_s
        self.max_message_bytes = max_message_bytes
        self._tail: collections.deque[str] = collections.deque(maxlen=max(1, stderr_tail_lines))
        self._tail_lock = threading.Lock()
        self._pending = b""  # the start of the stderr line the server is still writing
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sink: MessageSink | None = None
        self._threads: list[threading.Thread] = []
        self._reader_done = threading.Event()
        self._exited = threading.Event()  # the server process ended (maybe not yet reaped)
        self._exit_code: int | None = None
        self._lost: TransportError | None = None
        self._closing = False
        self._closed = False

    # -- Transport ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group id), or None before start."""
        return None if self._proc is None else self._proc.pid

    @property
    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr, joined by newlines, the line it is
        still writing included (bounded: ``stderr_tail_lines`` lines of at most
        :data:`STDERR_LINE_BYTES` bytes each)."""
        with self._tail_lock:
            lines = list(self._tail)
            if self._pending:
                lines.append(self._pending.decode("utf-8", "replace") + "...")
            return "\n".join(lines)

    def era_cache_key(self) -> str:
        """The launch spec (command, cwd, added env): the era verdict is cached per process."""
        env = ",".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        return f"stdio:{self.command!r}:{self.cwd!r}:{env}"

    def start(self, sink: MessageSink) -> None:
        """Start the server process and its reader, stderr and watcher threads.

        Raises:
            ConnectError: the program could not be started (not found, not executable,
                bad cwd); the message names the command.
            UsageError: the transport was already started.
        """
        with self._state_lock:
            if self._proc is not None or self._closed:
                raise UsageError("a StdioTransport can be started once")
            self._sink = sink
            env = default_environment()
            env.update(self.env)
            try:
                self._proc = subprocess.Popen(  # noqa: S603 - the caller's own command
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=sys.platform != "win32",
                    preexec_fn=None if self.limits is None else self.limits.preexec(),
                )
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                raise ConnectError(
                    f"could not start MCP server {self.target!r} ({self.command_line}): {exc}",
                    target=self.target,
                ) from exc
            proc = self._proc
            assert proc.stdout is not None
            assert proc.stderr is not None
            for name, fn, arg in (
                ("mcp-stdio-reader", self._read_stdout, proc.stdout),
                ("mcp-stdio-stderr", self._drain_stderr, proc.stderr),
                ("mcp-stdio-watch", self._watch, None),
            ):
                thread = threading.Thread(
                    target=fn, args=(arg,) if arg is not None else (), name=name, daemon=True
                )
                self._threads.append(thread)
                thread.start()
        logger.debug("started MCP server pid=%s: %s", proc.pid, self.target)

    def send(self, message: Message, context: SendContext) -> None:
        """Write one message and a newline to the server's stdin (serialized by a lock).

        Raises:
            ServerExitedError: the server has exited.
            ConnectionLostError: the pipe broke or the transport is closed.
            UsageError: the message is not JSON-serializable.
        """
        line = encode(message) + b"\n"
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise UsageError("the StdioTransport is not started")
        with self._write_lock:
            if self._lost is not None:
                raise self._lost
            if self._closing:
                raise ConnectionLostError(f"{self.target}: transport closed", target=self.target)
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError) as exc:
                if self._exited.wait(self.exit_grace_s):  # never reap here: see close()
                    raise self._exited_error(self._exit_code) from exc
                raise ConnectionLostError(
                    f"{self.target}: writing to the server's stdin failed: {exc}",
                    target=self.target,
                ) from exc

    def close(self) -> None:
        """Stop the server and every process of its group, then join the threads.

        MCP basic/transports "stdio" shutdown: close the server's stdin, wait up to
        ``shutdown_grace_s`` for it to exit, SIGTERM its process group, wait up to
        ``shutdown_grace_s`` for the group to empty, SIGKILL the group. The group is
        signalled even when the server already exited by itself (children it started
        are stopped with it); a step is skipped once the group is empty. Idempotent;
        bounded by ``close_timeout_s`` seconds in all.
        """
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._closing = True
            proc = self._proc
        if proc is None:
            return
        total = self.close_timeout_s
        deadline = time.monotonic() + total

        def left(reserve: float = 0.0) -> float:
            return max(0.0, deadline - reserve - time.monotonic())

        grace = self.shutdown_grace_s
        # 1. close stdin (a writer blocked on a full pipe holds the lock: then go on)
        stdin_closed = self._close_stdin(proc, min(grace, left(0.6 * total)))
        self._exited.wait(min(grace, left(0.6 * total)))
        # 2. SIGTERM the group, even if the leader is gone; 3. SIGKILL what is left
        for sig, reserve in ((signal.SIGTERM, 0.2 * total), (_SIGKILL, 0.0)):
            if not self._group_alive(proc):
                break
            self._signal_group(proc, sig)
            self._wait_group_empty(proc, min(grace, left(reserve)) if reserve else left())
        else:
            if self._group_alive(proc):
                logger.warning("MCP server group %s did not die after SIGKILL", proc.pid)
        if not stdin_closed:
            self._close_stdin(proc, left())
        try:  # reap the leader: only now may its pid (the group id) be reused
            proc.wait(timeout=max(left(), 0.01))
        except subprocess.TimeoutExpired:
            logger.warning("MCP server pid=%s did not exit within close_timeout_s", proc.pid)
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=max(left(), 0.01))

    # -- threads -----------------------------------------------------------------------------

    def _read_stdout(self, stream: IO[bytes]) -> None:
        sink = self._sink
        assert sink is not None
        limit = self.max_message_bytes or MAX_LINE_BYTES
        try:
            while True:
                line = stream.readline(limit + 1)  # bounded: never more than limit + 1 bytes
                if not line:
                    break
                if len(line) > limit and not (len(line) == limit + 1 and line.endswith(b"\n")):
                    self._lose(
                        ConnectionLostError(
                            f"{self.target}: protocol error: a stdout message exceeds "
                            f"{limit} bytes (max_message_bytes); connection closed",
                            target=self.target,
                        )
                    )
                    return
                line = line.strip()
                if not line:
                    continue
                try:
                    messages = decode(line)
                except ProtocolError as exc:
                    # Servers sometimes print stray text to stdout; it is not fatal (the
                    # official client logs it and keeps reading).
                    logger.warning("%s: ignoring non-JSON-RPC stdout line: %s", self.target, exc)
                    continue
                for message in messages:
                    sink.message_received(message)
        except (OSError, ValueError) as exc:
            if not self._closing:
                logger.debug("%s: stdout read failed: %s", self.target, exc)
        finally:
            self._reader_done.set()
            self._close_pipe(stream)  # this thread owns it (close() never waits on its lock)

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        """Log stderr line by line and keep a tail; memory stays bounded without newlines:
        reads chunks, keeps at most STDERR_LINE_BYTES of a line and drops the rest."""
        partial = bytearray()
        truncated = False
        read = getattr(stream, "read1", stream.read)
        try:
            while True:
                chunk = read(_STDERR_CHUNK)
                if not chunk:
                    break
                start = 0
                while True:
                    newline = chunk.find(b"\n", start)
                    end = len(chunk) if newline < 0 else newline
                    room = STDERR_LINE_BYTES - len(partial)
                    if end - start > room:
                        truncated = True
                    if room > 0:
                        partial += chunk[start : start + min(room, end - start)]
                    if newline < 0:
                        break
                    self._stderr_line(bytes(partial), truncated)
                    partial.clear()
                    truncated = False
                    start = newline + 1
                with self._tail_lock:  # the unfinished line shows in stderr_tail meanwhile
                    self._pending = bytes(partial)
        except (OSError, ValueError):
            pass
        finally:
            with self._tail_lock:
                self._pending = b""
            if partial or truncated:
                self._stderr_line(bytes(partial), truncated)  # a last line without newline
            self._close_pipe(stream)

    def _stderr_line(self, raw: bytes, truncated: bool) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if truncated:
            text += "..."
        with self._tail_lock:
            self._tail.append(text)
        stderr_logger.debug("[%s] %s", self.target, text)

    def _watch(self) -> None:
        proc = self._proc
        assert proc is not None
        code = self._wait_exit(proc)
        self._exit_code = code
        self._exited.set()
        # Let the reader deliver what the server wrote before it died (bounded: a grandchild
        # may keep the pipe open).
        self._reader_done.wait(timeout=self.exit_grace_s)
        for thread in self._threads:
            if thread.name == "mcp-stdio-stderr":
                thread.join(timeout=self.exit_grace_s)
        self._lose(self._exited_error(code))

    @staticmethod
    def _wait_exit(proc: subprocess.Popen[bytes]) -> int | None:
        """Block until the server exits; on Linux without reaping it (WNOWAIT), so that its
        pid, which names its process group, stays reserved until :meth:`close` reaps it."""
        if _KEEP_ZOMBIE:
            try:
                info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:  # already reaped by close()
                return proc.wait()
            except OSError:  # pragma: no cover - unexpected: reap instead
                return proc.wait()
            if info is None:  # pragma: no cover - only with WNOHANG
                return proc.wait()
            if info.si_code == os.CLD_EXITED:
                return info.si_status
            return -info.si_status  # killed or dumped by a signal: like Popen.returncode
        return proc.wait()

    # -- helpers -----------------------------------------------------------------------------

    def _exited_error(self, code: int | None) -> TransportError:
        if self._closing:
            return ConnectionLostError(f"{self.target}: transport closed", target=self.target)
        tail = self.stderr_tail
        how = f"exit code {code}"
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                how += f" ({signal.Signals(-code).name})"
        message = f"MCP server {self.target!r} exited with {how}"
        if tail:
            last = tail if len(tail) <= 2000 else "..." + tail[-2000:]
            message += f"; stderr tail:\n{last}"
        return ServerExitedError(message, exit_code=code, stderr_tail=tail, target=self.target)

    def _lose(self, error: TransportError) -> None:
        with self._state_lock:
            if self._lost is not None:
                return
            self._lost = error
        sink = self._sink
        if sink is not None:
            sink.connection_lost(error)

    def _close_stdin(self, proc: subprocess.Popen[bytes], wait_s: float) -> bool:
        if not self._write_lock.acquire(timeout=wait_s):
            return False
        try:
            self._close_pipe(proc.stdin)
        finally:
            self._write_lock.release()
        return True

    def _group_alive(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether any process of the server's group still runs (zombies do not count)."""
        if sys.platform == "win32":
            return proc.poll() is None
        if _KEEP_ZOMBIE:
            alive = _group_has_live_member(proc.pid)
            if alive is not None:
                return alive
        if proc.returncode is None and not self._exited.is_set():
            return True
        try:  # the leader is reaped: its id names the group only while a member lives
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        except OSError:  # pragma: no cover - defensive
            return False
        return True

    def _wait_group_empty(self, proc: subprocess.Popen[bytes], wait_s: float) -> None:
        end = time.monotonic() + wait_s
        while self._group_alive(proc):
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(_POLL_S, remaining))  # polling a bounded wait: no event exists

    def _signal_group(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            if sys.platform == "win32":
                if proc.returncode is None:
                    proc.send_signal(sig)
            else:
                os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError, OSError) as exc:
            logger.debug("signal %s to MCP server group %s failed: %s", sig, proc.pid, exc)

    @staticmethod
    def _close_pipe(pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        with contextlib.suppress(OSError, ValueError):
            pipe.close()


_SIGKILL: signal.Signals = getattr(signal, "SIGKILL", signal.SIGTERM)


def _group_has_live_member(pgid: int) -> bool | None:
    """Whether a process other than a zombie has process group ``pgid`` (Linux ``/proc``);
    None when ``/proc`` cannot be read."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended meanwhile
        fields = stat[stat.rfind(b")") + 2 :].split()  # state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False
