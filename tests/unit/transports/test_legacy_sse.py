"""LegacySSETransport (2024-11-05 HTTP+SSE) against small local servers: the odd cases."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest

from syncclients.errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeout,
    HTTPStatusError,
    ProtocolError,
    UsageError,
)
from syncclients.mcp.messages import ErrorResponse, Request, Response
from syncclients.mcp.transport import SendContext
from syncclients.transports.legacy_sse import LegacySSETransport

from .conftest import CollectingSink, StreamingServer, chunk, sse_head


def legacy_server(
    streaming_server: Any,
    *,
    endpoint: str | None,
    post_status: int = 202,
    post_body: bytes = b"",
    close_after: bool = False,
) -> tuple[StreamingServer, list[socket.socket]]:
    """GET /sse streams the endpoint event (then holds, or closes); POSTs answer on the stream."""
    streams: list[socket.socket] = []
    ready = threading.Event()

    def handler(line: str, headers: dict[str, str], body: bytes, conn: socket.socket) -> None:
        if line.startswith("GET"):
            conn.sendall(sse_head() + chunk(b": hello\n\n"))
            if endpoint is not None:
                conn.sendall(chunk(f"event: endpoint\ndata: {endpoint}\n\n".encode()))
            if close_after:
                conn.sendall(b"0\r\n\r\n")
                return
            streams.append(conn)
            ready.set()
            server.hold_until_client_leaves(conn)
            return
        msg = json.loads(body)
        conn.sendall(
            f"HTTP/1.1 {post_status} X\r\nContent-Type: application/json\r\nContent-Length: {len(post_body)}\r\n\r\n".encode()
            + post_body
        )
        if post_status == 202 and "id" in msg and "method" in msg:
            reply = json.dumps(
                {"jsonrpc": "2.0", "id": msg["id"], "result": {"echo": msg["method"], "✅": True}}
            )
            ready.wait(5)
            streams[0].sendall(chunk(f"event: message\r\ndata: {reply}\r\n\r\n".encode()))

    server = streaming_server(handler)
    return server, streams


def sse_url(server: StreamingServer) -> str:
    return server.url.replace("/mcp", "/sse")


def test_endpoint_is_resolved_and_answers_arrive_on_the_stream(
    streaming_server: Any, sink: CollectingSink
) -> None:
    server, _ = legacy_server(streaming_server, endpoint="/messages/?session_id=abc")
    t = LegacySSETransport(sse_url(server))
    try:
        t.start(sink)
        assert t.endpoint == sse_url(server).replace("/sse", "/messages/?session_id=abc")
        t.send(
            Request(1, "ping"),
            SendContext(method="ping", request_id=1, protocol_version="2024-11-05"),
        )
        assert sink.next() == Response(1, {"echo": "ping", "✅": True})
        post = server.requests[-1]
        assert post[0].startswith("POST /messages/?session_id=abc ")
        assert post[1]["content-type"] == "application/json"
        assert t.era_cache_key() == f"sse:{sse_url(server)}"
    finally:
        t.close()
    assert server.disconnected.wait(5)
    assert isinstance(sink.lost[0], ConnectionLostError)


def test_endpoint_on_another_origin_is_rejected(
    streaming_server: Any, sink: CollectingSink
) -> None:
    server, _ = legacy_server(streaming_server, endpoint="http://evil.example:8080/messages/")
    t = LegacySSETransport(sse_url(server))
    with pytest.raises(ProtocolError, match="another origin"):
        t.start(sink)
    assert t.endpoint is None
    t.close()


def test_no_endpoint_event_times_out(streaming_server: Any, sink: CollectingSink) -> None:
    server, _ = legacy_server(streaming_server, endpoint=None)
    t = LegacySSETransport(sse_url(server), endpoint_timeout_s=0.3)
    with pytest.raises(ConnectTimeout):
        t.start(sink)
    assert server.disconnected.wait(5)


def test_stream_ending_before_endpoint_and_after(
    streaming_server: Any, sink: CollectingSink
) -> None:
    server, _ = legacy_server(streaming_server, endpoint=None, close_after=True)
    with pytest.raises(ConnectionLostError):
        LegacySSETransport(sse_url(server)).start(sink)

    server, _ = legacy_server(streaming_server, endpoint="/messages/", close_after=True)
    sink2 = CollectingSink()
    t = LegacySSETransport(sse_url(server))
    try:
        t.start(sink2)  # the endpoint came before the end
        assert sink2.lost_event.wait(10)
        assert isinstance(sink2.lost[0], ConnectionLostError)
        with pytest.raises(ConnectionLostError):
            t.send(Request(1, "ping"), SendContext(method="ping", request_id=1))
    finally:
        t.close()


def test_post_errors(streaming_server: Any, sink: CollectingSink) -> None:
    error = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "bad"}}
    ).encode()
    server, _ = legacy_server(
        streaming_server, endpoint="/messages/", post_status=400, post_body=error
    )
    t = LegacySSETransport(sse_url(server))
    try:
        t.start(sink)
        t.send(Request(3, "ping"), SendContext(method="ping", request_id=3))
        got = sink.next()
        assert isinstance(got, ErrorResponse) and got.id == 3 and got.error.code == -32600
    finally:
        t.close()
    server, _ = legacy_server(
        streaming_server,
        endpoint="/messages/",
        post_status=404,
        post_body=b"Could not find session",
    )
    t = LegacySSETransport(sse_url(server))
    try:
        t.start(sink)
        with pytest.raises(HTTPStatusError) as info:
            t.send(Request(3, "ping"), SendContext(method="ping", request_id=3))
        assert info.value.status_code == 404
    finally:
        t.close()


def test_connect_failure_and_usage_errors(sink: CollectingSink) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectError):
        LegacySSETransport(f"http://127.0.0.1:{port}/sse").start(sink)
    with pytest.raises(UsageError):
        LegacySSETransport("/relative/sse")
    t = LegacySSETransport(f"http://127.0.0.1:{port}/sse")
    with pytest.raises(UsageError):
        t.send(Request(1, "ping"), SendContext())
    t.close()
