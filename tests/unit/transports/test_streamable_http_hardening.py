"""StreamableHTTPTransport against hostile or unlucky timing (issue 10): a session renewed
while sends are still in flight, a DELETE on close that trickles or floods, a response that
arrives on another stream than its request's, and the sse-retry conformance scenario."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.connectionpool

from syncclients.errors import ProtocolError, SessionExpiredError, SyncClientsError
from syncclients.mcp.messages import Request, Response
from syncclients.testing.http_server import Reply
from syncclients.transports.sse import DEFAULT_MAX_EVENT_BYTES, SSEParser
from syncclients.transports.streamable_http import StreamableHTTPTransport

from .conftest import CollectingSink, StreamingServer, chunk, sse_head
from .test_streamable_http import INIT_RESULT, MCPStub, ctx, initialize


@pytest.fixture
def stub() -> Iterator[MCPStub]:
    stub = MCPStub()
    stub.server.start()
    yield stub
    stub.server.stop()


# -- issue 10 item 1: renewing a lost session under sends still in flight -------------------------


def test_close_leaves_the_pool_to_a_send_still_in_flight(
    stub: MCPStub, sink: CollectingSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI flake: the client renews a lost session (closing the old transport) while
    another thread's POST has its connection pool in hand but no connection yet. That POST
    must still go out and end with the server's own answer (404: SessionExpiredError), not
    with urllib3's "Pool is closed" (ConnectionLostError)."""
    reached, release = threading.Event(), threading.Event()
    original = urllib3.connectionpool.HTTPConnectionPool._get_conn

    def gated_get_conn(pool: Any, timeout: float | None = None) -> Any:
        if threading.current_thread().name == "victim":
            reached.set()
            release.wait(10)
        return original(pool, timeout)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_get_conn", gated_get_conn)
    t = StreamableHTTPTransport(stub.url, auto_listen=False)
    initialize(t, sink)
    stub.answers["tools/call"] = Reply(404, "Not Found")
    stub.answers["tools/list"] = Reply(404, "Not Found")
    outcome: list[BaseException | None] = []

    def victim() -> None:
        try:
            t.send(Request(2, "tools/call", {"name": "x"}), ctx("tools/call", 2))
            outcome.append(None)
        except BaseException as exc:  # recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=victim, name="victim", daemon=True)
    thread.start()
    assert reached.wait(10)
    with pytest.raises(SessionExpiredError):  # another caller meets the lost session ...
        t.send(Request(3, "tools/list"), ctx("tools/list", 3))
    t.close()  # ... and the client renews it: the old transport is closed
    release.set()
    thread.join(10)
    # The POST went out: it ends with the 404's SessionExpiredError, or (its stream already
    # stopped by close) quietly, its caller answered by connection_lost(SessionExpiredError).
    assert len(outcome) == 1, outcome
    assert outcome[0] is None or isinstance(outcome[0], SessionExpiredError), outcome
    assert isinstance(sink.lost[0], SessionExpiredError)
    assert len(stub.posts("tools/call")) == 1
    assert t._pool_closed  # the last send out closed the pool


def test_a_send_after_renewal_closed_the_transport_says_session_expired(
    stub: MCPStub, sink: CollectingSink
) -> None:
    """A request registered before the loss was seen, sent after the client closed the old
    transport to renew it: never sent, and it says why (SessionExpiredError, so the client
    replays it when safe), not "transport closed"."""
    t = StreamableHTTPTransport(stub.url, auto_listen=False)
    initialize(t, sink)
    stub.answers["tools/list"] = Reply(404, "Not Found")
    with pytest.raises(SessionExpiredError):
        t.send(Request(2, "tools/list"), ctx("tools/list", 2))
    t.close()
    posts = len(stub.posts())
    with pytest.raises(SyncClientsError) as info:
        t.send(Request(3, "tools/call", {"name": "x"}), ctx("tools/call", 3))
    assert isinstance(info.value, SessionExpiredError), repr(info.value)
    assert len(stub.posts()) == posts


# -- issue 10 items 2 and 3: the session DELETE on close, bounded in time and memory ---------------


def _session_server(on_delete: Any) -> Any:
    """A raw handler: initialize gets a session (JSON); DELETE is ``on_delete(conn)``."""

    def handler(request_line: str, headers: dict[str, str], body: bytes, conn: Any) -> None:
        if request_line.startswith("DELETE"):
            on_delete(conn)
            return
        payload = json.dumps(
            {"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": INIT_RESULT}
        ).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s1\r\n"
            + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )

    return handler


def test_close_bounds_a_trickling_delete_in_total_time(
    streaming_server: Any, sink: CollectingSink
) -> None:
    """A DELETE answered one byte every 0.4 s (each read well within the read timeout)
    used to hold close() for the whole answer (43 s in the issue); close_timeout_s bounds
    the whole close now."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbye!\n"
    stopped = threading.Event()

    def trickle(conn: socket.socket) -> None:
        for i in range(len(answer)):
            if stopped.wait(0.4):
                return
            try:
                conn.sendall(answer[i : i + 1])
            except OSError:
                return

    server = streaming_server(_session_server(trickle))
    t = StreamableHTTPTransport(server.url, auto_listen=False, close_timeout_s=1.0)
    initialize(t, sink)
    started = time.monotonic()
    try:
        t.close()
        elapsed = time.monotonic() - started
    finally:
        stopped.set()
    assert any(line.startswith("DELETE") for line, _, _ in server.requests)
    assert elapsed < 2.0, elapsed  # 1.0 s budget; it used to take ~24 s here


def test_close_never_reads_a_flooding_delete_body(
    streaming_server: Any, sink: CollectingSink
) -> None:
    """A DELETE answered with an endless body: close() returns at once without reading it
    (before: read into memory until close_timeout_s... per read, i.e. forever)."""
    sent = [0]
    stopped = threading.Event()

    def flood(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        block = chunk(b"x" * 65536)
        deadline = time.monotonic() + 20
        while not stopped.is_set() and time.monotonic() < deadline:
            try:
                conn.sendall(block)
            except OSError:
                return
            sent[0] += len(block)

    server = streaming_server(_session_server(flood))
    t = StreamableHTTPTransport(server.url, auto_listen=False, close_timeout_s=3.0)
    initialize(t, sink)
    started = time.monotonic()
    try:
        t.close()
        elapsed = time.monotonic() - started
    finally:
        stopped.set()
    assert elapsed < 2.0, elapsed
    assert sent[0] < 32 * 1024 * 1024, sent[0]  # socket buffers at most; nothing read on


# -- issue 10 item 4: sse-retry (an answered request's stream is never resumed) ----------------


def test_a_request_answered_on_the_get_stream_is_never_resumed(
    streaming_server: Any, sink: CollectingSink
) -> None:
    """The server answers the call on the GET stream, then closes the call's own stream
    (which had an event id and ``retry``). The answered request's stream ends at once; it is
    never resumed with ``Last-Event-ID`` (before: a GET with ``Last-Event-ID: p1`` 100 ms
    later, held open by the server)."""
    listen_conn: list[socket.socket] = []
    listen_ready = threading.Event()
    resumes: list[str] = []

    def handler(request_line: str, headers: dict[str, str], body: bytes, conn: Any) -> None:
        if request_line.startswith("GET"):
            if "last-event-id" in headers:
                resumes.append(headers["last-event-id"])
            conn.sendall(sse_head() + chunk(b"id: g0\nretry: 100\ndata: \n\n"))
            if not listen_conn:
                listen_conn.append(conn)
                listen_ready.set()
            server.hold_until_client_leaves(conn)
            return
        if request_line.startswith("DELETE"):
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        msg = json.loads(body)
        if msg.get("method") == "initialize":
            payload = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": INIT_RESULT})
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s1\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n{payload}".encode()
            )
            return
        if "id" not in msg:
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(sse_head() + chunk(b"id: p1\nretry: 100\ndata: \n\n"))
        answer = {"jsonrpc": "2.0", "id": msg["id"], "result": {"content": []}}
        assert listen_ready.wait(10)
        listen_conn[0].sendall(chunk(f"id: g1\ndata: {json.dumps(answer)}\n\n".encode()))
        conn.sendall(b"0\r\n\r\n")  # the call's stream ends without its answer

    server: StreamingServer = streaming_server(handler)
    t = StreamableHTTPTransport(server.url, auto_listen=False)
    try:
        initialize(t, sink)
        assert t.open_listen_stream(wait_s=5) is True
        t.send(Request(2, "tools/call", {"name": "x"}), ctx("tools/call", 2, timeout_s=30))
        assert sink.next() == Response(2, {"content": []})
        deadline = time.monotonic() + 5
        while any(th.name == "mcp-http-2" for th in threading.enumerate()):
            assert time.monotonic() < deadline, "the answered request's stream is still open"
            time.sleep(0.01)
        assert resumes == []
        assert sink.failures.empty()
    finally:
        t.close()


# -- issue 10 item 2: SSE events, bounded in memory and linear in time ----------------------------


def test_a_long_event_in_small_chunks_parses_in_linear_time() -> None:
    """16 MB of one ``data`` line in 64 KiB chunks (how pump_events reads): the parser kept
    re-joining and re-scanning the whole incomplete line per chunk (10 s of CPU here)."""
    parser = SSEParser(max_event_bytes=DEFAULT_MAX_EVENT_BYTES)
    piece = b"x" * 65536
    started = time.process_time()
    assert parser.feed(b"data: ") == []
    for _ in range(DEFAULT_MAX_EVENT_BYTES // len(piece) - 1):
        assert parser.feed(piece) == []
    (only,) = parser.feed(b"\n\n")
    assert len(only.data) == DEFAULT_MAX_EVENT_BYTES - len(piece)
    assert time.process_time() - started < 3.0


def test_an_endless_line_fails_once_past_the_bound() -> None:
    parser = SSEParser(max_event_bytes=1_000_000)
    piece = b"y" * 65536
    fed = 0
    error: ProtocolError | None = None
    while fed < 10_000_000 and error is None:
        try:
            parser.feed(piece)
        except ProtocolError as exc:
            error = exc
        fed += len(piece)
    assert error is not None and "exceeds the limit of 1000000 bytes" in str(error)
    assert fed <= 1_000_000 + len(piece)  # failed with the first chunk past the bound
