"""The ``sse-retry`` client scenario of the official MCP conformance suite
(@modelcontextprotocol/conformance, src/scenarios/client/sse-retry.ts; SEP-1699), ported to
a raw server on 127.0.0.1 and run against :class:`MCPClient` over Streamable HTTP.

The server treats every GET as a reconnection: it records the time of the last GET, sends
a priming event (``id`` + ``retry: 500``) and, when a ``tools/call`` is pending, that call's
response. ``tools/call`` is answered with a priming event on an SSE stream that the server
closes 50 ms later without the response. The scenario's checks, reproduced here:

- the client reconnects with a GET after the graceful close (``client-sse-graceful-reconnect``);
- the reconnection comes ``retry`` ms after the close: not 50 ms early (FAILURE), not later
  than twice ``retry`` (FAILURE), within 200 ms late for SUCCESS (``client-sse-retry-timing``);
- the reconnection carries ``Last-Event-ID`` (``client-sse-last-event-id``).

The standalone GET stream our client opens after ``notifications/initialized`` is a GET
too: it must reach the server before the first request, or the server takes it for the
reconnection (too early) and answers the call on it; and once the call is answered, its
stream is never resumed again (the last GET would move).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from syncclients import MCPClient

RETRY_MS = 500
EARLY_TOLERANCE_MS = 50
LATE_TOLERANCE_MS = 200


class SSERetryServer:
    """The scenario's server, on a raw socket (HTTP/1.1, chunked SSE)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.session_id = f"session-{time.time_ns()}"
        self.event_counter = 0
        self.pending_call_id: Any = None
        self.tool_stream_closed_at: float | None = None
        self.tool_stream_closed = threading.Event()
        self.last_get_at: float | None = None
        self.get_count = 0
        self.last_event_ids: list[str] = []
        self.log: list[tuple[float, str]] = []  # (monotonic, what) for failure messages
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/mcp"

    def __enter__(self) -> SSERetryServer:
        self.acceptor.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.acceptor.join(5)
        self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self.threads:
            t.join(5)

    # -- plumbing ------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buf = b""
        try:
            while not self.stopping.is_set():  # keep-alive: several requests per connection
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ", 1)[0]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                if not self._handle(method, headers, body, conn):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def _note(self, what: str) -> None:
        self.log.append((time.monotonic(), what))

    @staticmethod
    def _chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def _sse_head(self) -> bytes:
        return (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"Connection: keep-alive\r\nmcp-session-id: {self.session_id}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()

    def _json(self, conn: socket.socket, payload: Any) -> None:
        data = json.dumps(payload).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"mcp-session-id: {self.session_id}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                if conn.recv(1) == b"":
                    return
            except TimeoutError:
                continue

    # -- the scenario --------------------------------------------------------------------------

    def _handle(
        self, method: str, headers: dict[str, str], body: bytes, conn: socket.socket
    ) -> bool:
        if method == "GET":
            with self.lock:
                self.get_count += 1
                self.last_get_at = time.monotonic()
                last_event_id = headers.get("last-event-id")
                if last_event_id:
                    self.last_event_ids.append(last_event_id)
                self.event_counter += 1
                priming = f"id: event-{self.event_counter}\nretry: {RETRY_MS}\ndata: \n\n"
                pending, self.pending_call_id = self.pending_call_id, None
                if pending is not None:
                    self.event_counter += 1
                    answer = {
                        "jsonrpc": "2.0",
                        "id": pending,
                        "result": {
                            "content": [
                                {"type": "text", "text": "Reconnection test completed successfully"}
                            ]
                        },
                    }
                    answer_event = f"event: message\nid: event-{self.event_counter}\ndata: {json.dumps(answer)}\n\n"
            self._note(f"GET Last-Event-ID={last_event_id!r} answers={pending!r}")
            conn.sendall(self._sse_head() + self._chunk(priming.encode()))
            if pending is not None:
                conn.sendall(self._chunk(answer_event.encode()))
            self._hold(conn)
            return False
        if method != "POST":
            conn.sendall(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 18\r\n\r\nMethod Not Allowed"
            )
            return True
        request = json.loads(body)
        self._note(f"POST {request.get('method')}")
        if request.get("method") == "initialize":
            self._json(conn, {"jsonrpc": "2.0", "id": request["id"], "result": {
                "protocolVersion": "2025-03-26",
                "serverInfo": {"name": "sse-retry-test-server", "version": "1.0.0"},
                "capabilities": {"tools": {}},
            }})  # fmt: skip
            return True
        if request.get("method") == "tools/list":
            self._json(conn, {"jsonrpc": "2.0", "id": request["id"], "result": {"tools": [
                {"name": "test_reconnection", "inputSchema": {"type": "object", "properties": {}}},
            ]}})  # fmt: skip
            return True
        if request.get("method") == "tools/call":
            with self.lock:
                self.pending_call_id = request["id"]
                self.event_counter += 1
                priming = f"id: event-{self.event_counter}\nretry: {RETRY_MS}\ndata: \n\n"
            conn.sendall(self._sse_head() + self._chunk(priming.encode()))
            time.sleep(0.05)  # the scenario closes the stream 50 ms later
            with self.lock:
                self.tool_stream_closed_at = time.monotonic()
            self.tool_stream_closed.set()
            self._note("tools/call stream closed")
            conn.sendall(b"0\r\n\r\n")
            return True
        if "id" not in request:
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            return True
        self._json(conn, {"jsonrpc": "2.0", "id": request["id"], "result": {}})
        return True


@pytest.fixture
def scenario() -> Iterator[SSERetryServer]:
    with SSERetryServer() as server:
        yield server


def test_sse_retry_conformance_scenario(scenario: SSERetryServer) -> None:
    with MCPClient.http(scenario.url, era="legacy", timeouts=(5.0, 10.0), breaker=None) as client:
        result = client.call_tool("test_reconnection", {}, idempotent=False)
        assert result.text == "Reconnection test completed successfully"
    assert scenario.tool_stream_closed.wait(5)
    log = [(round((t - scenario.log[0][0]) * 1000), what) for t, what in scenario.log]
    # client-sse-graceful-reconnect
    assert scenario.get_count >= 1, log
    # client-sse-retry-timing: the last GET is the reconnection, RETRY_MS after the close
    assert scenario.tool_stream_closed_at is not None and scenario.last_get_at is not None
    delay_ms = (scenario.last_get_at - scenario.tool_stream_closed_at) * 1000
    assert delay_ms >= RETRY_MS - EARLY_TOLERANCE_MS, (delay_ms, log)  # "too early": FAILURE
    assert delay_ms <= 2 * RETRY_MS, (delay_ms, log)  # "very late": FAILURE
    # client-sse-last-event-id, with the id of the call's own stream
    assert scenario.last_event_ids[:1] == ["event-2"], log
    # the standalone GET (first, no Last-Event-ID) reached the server before the call, and
    # the answered call was not resumed again: two GETs in all
    assert scenario.get_count == 2, log
    whats = [what for _, what in scenario.log]
    assert whats.index("GET Last-Event-ID=None answers=None") < whats.index("POST tools/call")
