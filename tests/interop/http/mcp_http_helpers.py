"""Helpers for the MCP HTTP transport interop tests: a collecting sink, server processes,
a TCP proxy that can cut connections, and raw JSON-RPC drivers for a transport."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncclients.errors import SyncClientsError, TransportError
from syncclients.mcp.messages import (
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
)
from syncclients.mcp.transport import SendContext, Transport

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SERVE_SDK = HERE / "serve_sdk.py"
EVERYTHING = (
    ROOT / ".npm-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)
INSTALL_SCRIPT = ROOT / "scripts/install-npm-servers.sh"

HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"
CLIENT_INFO = {"name": "syncclients-interop", "version": "0"}

Answerer = Callable[[Request], dict[str, Any]]


def initialize(
    transport: Transport,
    sink: Any,
    *,
    capabilities: dict[str, Any] | None = None,
    version: str = HANDSHAKE,
    rid: int = 1,
) -> dict[str, Any]:
    """initialize + notifications/initialized; returns the initialize result."""
    params = {
        "protocolVersion": version,
        "capabilities": capabilities or {},
        "clientInfo": CLIENT_INFO,
    }
    transport.send(
        Request(rid, "initialize", params),
        SendContext(method="initialize", request_id=rid, timeout_s=20),
    )
    answer = sink.until(lambda m: isinstance(m, Response | ErrorResponse) and m.id == rid)[-1]
    assert isinstance(answer, Response), answer
    negotiated = answer.result["protocolVersion"]
    transport.send(
        Notification("notifications/initialized"),
        SendContext(method="notifications/initialized", protocol_version=negotiated),
    )
    return answer.result


def call(
    transport: Transport,
    sink: Any,
    rid: int,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    version: str = HANDSHAKE,
    modern: bool = False,
    answer: Answerer | None = None,
    timeout_s: float = 20.0,
) -> list[Message]:
    """Send a request; answer server requests with ``answer``; return every message up to
    and including the response to ``rid``."""
    params = dict(params or {})
    if modern:
        meta = dict(params.get("_meta") or {})
        meta.update(
            {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
            }
        )
        params["_meta"] = meta
    name = params.get("name") if method in ("tools/call", "prompts/get") else params.get("uri")
    context = SendContext(
        method=method,
        name=name if isinstance(name, str) else None,
        protocol_version=version,
        modern=modern,
        request_id=rid,
        timeout_s=timeout_s,
    )
    transport.send(Request(rid, method, params), context)
    seen: list[Message] = []
    while True:
        message = sink.next(timeout_s)
        seen.append(message)
        if isinstance(message, Request):
            assert answer is not None, f"unexpected server request {message}"
            transport.send(
                Response(message.id, answer(message)), SendContext(request_id=message.id)
            )
        elif isinstance(message, Response | ErrorResponse) and message.id == rid:
            return seen


def text_of(result: Message) -> str:
    assert isinstance(result, Response), result
    return str(result.result["content"][0]["text"])


class CollectingSink:
    """A MessageSink (with the optional request_failed hook) that queues what it gets."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.failures: queue.Queue[tuple[RequestId, SyncClientsError]] = queue.Queue()
        self.lost: list[TransportError] = []

    def message_received(self, message: Message) -> None:
        self.messages.put(message)

    def connection_lost(self, error: TransportError) -> None:
        self.lost.append(error)

    def request_failed(self, request_id: RequestId, error: SyncClientsError) -> None:
        self.failures.put((request_id, error))

    def next(self, timeout_s: float = 15.0) -> Message:
        return self.messages.get(timeout=timeout_s)

    def until(self, predicate: Callable[[Message], bool], timeout_s: float = 30.0) -> list[Message]:
        """Every message up to and including the first that matches (bounded wait)."""
        seen: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while True:
            message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            seen.append(message)
            if predicate(message):
                return seen


@dataclass
class ServerProcess:
    """A server subprocess in its own process group, with its stderr in a file."""

    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_stderr(self, text: str, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            time.sleep(0.05)  # polling a file, bounded by the deadline
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _wait_until_accepting(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before accepting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # readiness poll, bounded by the deadline
    raise RuntimeError(f"server on port {port} not ready within {timeout_s} s")


def start_sdk_server(mode: str, tmp: Path, port: int = 0) -> ServerProcess:
    stderr_path = tmp / f"sdk-{mode}-{port}-{time.monotonic_ns()}.stderr"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SERVE_SDK), mode, str(port)],
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    assert proc.stdout is not None
    server = ServerProcess(proc, 0, stderr_path)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            raise RuntimeError(f"no port from serve_sdk.py: {line!r}; stderr: {server.stderr()}")
        server.port = int(line)
        _wait_until_accepting(server.port, proc, 30)
    except BaseException:
        server.stop()
        raise
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_everything(tmp: Path) -> ServerProcess:
    if not EVERYTHING.exists():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, timeout=300, cwd=ROOT)
    last: Exception | None = None
    for _ in range(3):  # the port picked may be taken before node binds it: try another
        port = free_port()
        stderr_path = tmp / f"everything-{port}.log"
        with stderr_path.open("wb") as log:
            proc = subprocess.Popen(
                ["node", str(EVERYTHING), "streamableHttp"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PORT": str(port)},
                start_new_session=True,
            )
        server = ServerProcess(proc, port, stderr_path)
        try:
            _wait_until_accepting(port, proc, 30)
            return server
        except RuntimeError as exc:
            last = exc
            server.stop()
    raise RuntimeError(f"server-everything did not start: {last}")


class TCPProxy:
    """Forwards 127.0.0.1:<port> to a target port; :meth:`drop_all` cuts every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.accepted = 0
        self._spawn(self._accept)

    def _spawn(self, fn: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
                self.sockets += [client, upstream]
                self.accepted += 1
            self._spawn(self._pipe, client, upstream)
            self._spawn(self._pipe, upstream, client)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def drop_all(self) -> int:
        """Cut every open connection (both directions); returns how many."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        return len(pairs)

    def close(self) -> None:
        self.stopping.set()
        self.drop_all()
        self.listener.close()
        for t in self.threads:
            t.join(5)
        with self.lock:
            for s in self.sockets:
                s.close()
