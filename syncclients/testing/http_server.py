"""A small threaded HTTP/1.1 server on 127.0.0.1 for tests and examples.

Routes map ``(method, path)`` to a handler ``(RequestInfo) -> Reply``. The server counts
the TCP connections it accepted, so tests can check connection reuse, and every request it
saw. It binds an ephemeral port on 127.0.0.1 only, and :meth:`LocalHTTPServer.stop` joins its
thread within a bound.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LocalHTTPServer", "Reply", "RequestInfo"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request the server received.

    Attributes:
        method: the HTTP method.
        path: the path, query included.
        headers: the request headers (names as sent).
        body: the request body bytes.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(slots=True)
class Reply:
    """What a handler answers.

    Attributes:
        status: the HTTP status code.
        body: bytes, str (UTF-8), or any other value (sent as JSON).
        headers: extra response headers.
        delay_s: wait this long before answering (bounded by the server's stop).
        close: close the connection without answering (a connection reset to the client).
    """

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    close: bool = False


Handler = Callable[[RequestInfo], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows when 20 threads connect at once, and the
    # kernel then resets some of those connections
    request_queue_size = 128

    def __init__(self, owner: LocalHTTPServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner._lock:
            self.owner.connections_opened += 1
        return conn, addr


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        info = RequestInfo(self.command, self.path, dict(self.headers.items()), body)
        with owner._lock:
            owner.requests.append(info)
        path = self.path.split("?", 1)[0]
        handler = owner.routes.get((self.command, path)) or owner.routes.get(("*", path))
        reply = handler(info) if handler else Reply(404, {"error": "not found", "path": path})
        if reply.delay_s and owner._stopping.wait(reply.delay_s):
            reply = Reply(close=True)
        if reply.close:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = reply.body
        headers = dict(reply.headers)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif not isinstance(payload, bytes):
            payload = json.dumps(payload).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class LocalHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        routes: ``{(method, path): handler}``; method ``"*"`` matches any method.
        requests: every request received, in order.
        connections_opened: TCP connections accepted so far.
    """

    def __init__(self, routes: Mapping[tuple[str, str], Handler] | None = None) -> None:
        self.routes: dict[tuple[str, str], Handler] = dict(routes or {})
        self.requests: list[RequestInfo] = []
        self.connections_opened = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for ``method`` and ``path``."""

        def register(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return register

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and ``path`` (None matches any)."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.path.split("?", 1)[0] == path)
            )

    def start(self) -> LocalHTTPServer:
        """Bind 127.0.0.1 on an ephemeral port and serve on a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="LocalHTTPServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving, release delayed handlers, close the socket (waits <= timeout_s)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
