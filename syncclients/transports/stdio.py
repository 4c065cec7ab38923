"""The MCP stdio transport: a server subprocess speaking newline-delimited JSON-RPC.

MCP basic/transports "stdio": one UTF-8 JSON-RPC message per line on stdin/stdout; stderr is
free-form logging. The server runs in its own session (so its whole process group can be
signalled), with a minimal environment as the official client gives it. A reader thread
parses stdout; a drain thread logs stderr and keeps a bounded tail for error messages; a
watcher thread notices the exit. This module is the ONLY place where OSError and subprocess
errors are translated into :mod:`syncclients.errors`.
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
from collections.abc import Mapping, Sequence
from typing import IO

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

__all__ = ["DEFAULT_INHERITED_ENV_VARS", "StdioTransport", "default_environment"]

logger = logging.getLogger("syncclients.transports.stdio")
stderr_logger = logging.getLogger("syncclients.transports.stdio.stderr")

#: Variables copied from the parent's environment, as the official MCP clients do.
DEFAULT_INHERITED_ENV_VARS: tuple[str, ...] = (
    ("APPDATA", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA", "PATH", "PROCESSOR_ARCHITECTURE",
     "SYSTEMDRIVE", "SYSTEMROOT", "TEMP", "USERNAME", "USERPROFILE")
    if sys.platform == "win32"
    else ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
)  # fmt: skip

#: Longest stdout line accepted, in bytes (a larger message is a protocol error).
MAX_LINE_BYTES = 64 * 1024 * 1024


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


class StdioTransport(Transport):
    """Runs an MCP server as a subprocess and exchanges messages over its stdin/stdout.

    Args:
        command: the program and its arguments, e.g. ``["python", "server.py"]``.
        env: variables added to (and overriding) the minimal environment; None: none added.
        cwd: the server's working directory; None: ours.
        stderr_tail_lines: how many of the server's last stderr lines are kept for errors.
        shutdown_grace_s: seconds to wait after closing stdin, and again after SIGTERM, before
            escalating (MCP "stdio" shutdown: close stdin, SIGTERM, SIGKILL).
        exit_grace_s: after the process exits, the most seconds to wait for stdout to reach
            end of file before in-flight calls are failed (grandchildren holding the pipe).
        name: the server's name for errors and logs (``.target``); None: the command line.
        secret_values: ``{VAR: value}`` of values expanded from ``${VAR}`` in a config file,
            shown as ``${VAR}`` wherever the command line is printed (values after
            ``--token``-like flags are hidden anyway, see :mod:`syncclients.redact`).

    Raises:
        UsageError: ``command`` is empty or not a list of strings.
    """

    probe_timeout_means_legacy = True

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stderr_tail_lines: int = 40,
        shutdown_grace_s: float = 2.0,
        exit_grace_s: float = 0.25,
        name: str | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
            raise UsageError(f"command must be a non-empty list of strings, got {command!r}")
        if env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise UsageError("env must map strings to strings")
        self.command = list(command)
        self.env = dict(env or {})
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.command_line = redact_command(self.command, known=secret_values, limit=120)
        self.target = name or self.command_line
        self.shutdown_grace_s = shutdown_grace_s
        self.exit_grace_s = exit_grace_s
        self._tail: collections.deque[str] = collections.deque(maxlen=max(1, stderr_tail_lines))
        self._tail_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sink: MessageSink | None = None
        self._threads: list[threading.Thread] = []
        self._reader_done = threading.Event()
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
        """The last lines the server wrote to stderr (bounded), joined by newlines."""
        with self._tail_lock:
            return "\n".join(self._tail)

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
                code = proc.poll()
                if code is not None:
                    raise self._exited_error(code) from exc
                raise ConnectionLostError(
                    f"{self.target}: writing to the server's stdin failed: {exc}",
                    target=self.target,
                ) from exc

    def close(self) -> None:
        """Stop the server: close stdin, wait, SIGTERM the group, wait, SIGKILL; join threads.

        Idempotent and bounded (about ``2 * shutdown_grace_s`` plus a second at worst).
        """
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._closing = True
            proc = self._proc
        if proc is None:
            return
        with self._write_lock:
            self._close_pipe(proc.stdin)
        try:
            proc.wait(timeout=self.shutdown_grace_s)
        except subprocess.TimeoutExpired:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.shutdown_grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
                try:
                    proc.wait(timeout=self.shutdown_grace_s)
                except subprocess.TimeoutExpired:
                    logger.warning("MCP server pid=%s did not die after SIGKILL", proc.pid)
        self._close_pipe(proc.stdout)
        self._close_pipe(proc.stderr)
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=1.0)

    # -- threads -----------------------------------------------------------------------------

    def _read_stdout(self, stream: IO[bytes]) -> None:
        sink = self._sink
        assert sink is not None
        try:
            while True:
                line = stream.readline(MAX_LINE_BYTES + 1)
                if not line:
                    break
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    self._lose(
                        ConnectionLostError(
                            f"{self.target}: protocol error: a stdout line exceeds "
                            f"{MAX_LINE_BYTES} bytes",
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

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        try:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if len(text) > 2000:
                    text = text[:2000] + "..."
                with self._tail_lock:
                    self._tail.append(text)
                stderr_logger.debug("[%s] %s", self.target, text)
        except (OSError, ValueError):
            pass

    def _watch(self) -> None:
        proc = self._proc
        assert proc is not None
        code = proc.wait()
        # Let the reader deliver what the server wrote before it died (bounded: a grandchild
        # may keep the pipe open).
        self._reader_done.wait(timeout=self.exit_grace_s)
        for thread in self._threads:
            if thread.name == "mcp-stdio-stderr":
                thread.join(timeout=self.exit_grace_s)
        self._lose(self._exited_error(code))

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

    def _signal_group(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        if proc.poll() is not None:
            return  # reaped: its pid (and group id) may be reused; never signal it
        try:
            if sys.platform == "win32":
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
