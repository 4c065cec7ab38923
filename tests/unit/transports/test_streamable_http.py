"""StreamableHTTPTransport against small local servers: the odd cases real servers rarely show."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from syncclients.errors import (
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    ReadTimeout,
    ResponseTooLargeError,
    SessionExpiredError,
    TransportError,
    UsageError,
)
from syncclients.mcp.messages import (
    ErrorResponse,
    Notification,
    Request,
    Response,
)
from syncclients.mcp.transport import SendContext
from syncclients.testing.http_server import LocalHTTPServer, Reply, RequestInfo
from syncclients.transports.streamable_http import (
    HTTPSendContext,
    StreamableHTTPTransport,
    encode_header_value,
)

from .conftest import CollectingSink, HookLessSink, StreamingServer, chunk, sse_head

V = "2025-11-25"
SID = "sess-1"
INIT = Request(
    1,
    "initialize",
    {"protocolVersion": V, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
)
INIT_RESULT = {
    "protocolVersion": V,
    "capabilities": {},
    "serverInfo": {"name": "s", "version": "1"},
}


def hdr(info: RequestInfo, name: str) -> str | None:
    for key, value in info.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def ctx(method: str | None = None, rid: Any = None, **kw: Any) -> SendContext:
    kw.setdefault("timeout_s", 10.0)
    return SendContext(method=method, request_id=rid, protocol_version=kw.pop("version", V), **kw)


def sse(*events: str) -> bytes:
    return "".join(events).encode()


def event(payload: Any, *, eid: str | None = None, end: str = "\n") -> str:
    lines = ["event: message"]
    if eid is not None:
        lines.append(f"id: {eid}")
    lines.append("data: " + (payload if isinstance(payload, str) else json.dumps(payload)))
    return end.join(lines) + end + end


def result(rid: Any, res: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": res}


class MCPStub:
    """A scriptable MCP endpoint on LocalHTTPServer: initialize gives a session; other POSTs
    are answered by ``self.answer`` (method -> Reply)."""

    def __init__(self) -> None:
        self.server = LocalHTTPServer()
        self.answers: dict[str, Reply] = {}
        self.get_reply: Reply = Reply(405)
        self.delete_reply: Reply = Reply(200)
        self.server.routes[("POST", "/mcp")] = self._post
        self.server.routes[("GET", "/mcp")] = lambda info: self.get_reply
        self.server.routes[("DELETE", "/mcp")] = lambda info: self.delete_reply

    def _post(self, info: RequestInfo) -> Reply:
        msg = info.json()
        method = msg.get("method")
        if method == "initialize":
            return Reply(200, result(msg["id"], INIT_RESULT), headers={"Mcp-Session-Id": SID})
        if method in self.answers:
            reply = self.answers[method]
            if callable(reply):
                return reply(info)  # type: ignore[no-any-return]
            return reply
        if "id" in msg and "method" in msg:
            return Reply(200, result(msg["id"], {"echo": method}))
        return Reply(202)

    @property
    def url(self) -> str:
        return self.server.url + "/mcp"

    def posts(self, method: str | None = None) -> list[RequestInfo]:
        return [
            r
            for r in self.server.requests
            if r.method == "POST" and (method is None or json.loads(r.body).get("method") == method)
        ]


@pytest.fixture
def stub() -> Iterator[MCPStub]:
    stub = MCPStub()
    stub.server.start()
    yield stub
    stub.server.stop()


@pytest.fixture
def transport(stub: MCPStub) -> Iterator[StreamableHTTPTransport]:
    t = StreamableHTTPTransport(stub.url, auto_listen=False, default_retry_s=0.01)
    yield t
    t.close()


def initialize(t: StreamableHTTPTransport, sink: CollectingSink) -> None:
    t.start(sink)
    t.send(INIT, SendContext(method="initialize", request_id=1, timeout_s=10))
    assert sink.next() == Response(1, INIT_RESULT)


# -- sending and answers ---------------------------------------------------------------------------


def test_json_answer_session_and_headers(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    assert transport.session_id == SID and transport.protocol_version == V
    init_post = stub.posts("initialize")[0]
    assert hdr(init_post, "Accept") == "application/json, text/event-stream"
    assert hdr(init_post, "Content-Type") == "application/json"
    assert (
        hdr(init_post, "Mcp-Session-Id") is None and hdr(init_post, "MCP-Protocol-Version") is None
    )

    transport.send(Notification("notifications/initialized"), ctx("notifications/initialized"))
    transport.send(Request(2, "tools/list", {}), ctx("tools/list", 2))
    assert sink.next() == Response(2, {"echo": "tools/list"})
    for info in stub.posts()[1:]:
        assert hdr(info, "Mcp-Session-Id") == SID
        assert hdr(info, "MCP-Protocol-Version") == V
        assert hdr(info, "Mcp-Method") is None  # handshake era: no modern headers


def test_session_id_is_not_taken_from_a_failed_initialize(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    error = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad version"}}
    stub.answers["initialize"] = Reply(200, error, headers={"Mcp-Session-Id": "throwaway"})
    stub.server.routes[("POST", "/mcp")] = lambda info: stub.answers["initialize"]
    transport.start(sink)
    transport.send(INIT, SendContext(method="initialize", request_id=1, timeout_s=10))
    assert isinstance(sink.next(), ErrorResponse)
    assert transport.session_id is None


def test_sse_answer_delivers_every_message_in_order(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    body = sse(
        ": ping\r\n\r\n",
        event(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": "p", "progress": 1},
            },
            end="\r\n",
        ),
        event(
            {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": "done ✅"},
            },
            end="\r",
        ),
        event({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}),
        event(result(2, {"content": [{"type": "text", "text": "✅"}]})),
    )
    stub.answers["tools/call"] = Reply(200, body, headers={"Content-Type": "text/event-stream"})
    initialize(transport, sink)
    transport.send(Request(2, "tools/call", {"name": "x"}), ctx("tools/call", 2, name="x"))
    got = sink.until(lambda m: isinstance(m, Response) and m.id == 2)
    assert [type(m).__name__ for m in got] == [
        "Notification",
        "Notification",
        "Request",
        "Response",
    ]
    assert got[1].params == {"level": "info", "data": "done ✅"}  # type: ignore[union-attr]
    assert got[3] == Response(2, {"content": [{"type": "text", "text": "✅"}]})


def test_initialize_over_sse_takes_the_session_id(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    stub.answers["initialize"] = Reply(
        200,
        sse(event(result(1, INIT_RESULT))),
        headers={"Content-Type": "text/event-stream", "Mcp-Session-Id": "sse-sess"},
    )
    stub.server.routes[("POST", "/mcp")] = lambda info: stub.answers["initialize"]
    transport.start(sink)
    transport.send(INIT, SendContext(method="initialize", request_id=1, timeout_s=10))
    assert sink.next() == Response(1, INIT_RESULT)
    assert transport.session_id == "sse-sess"


def test_notification_202_and_request_202_is_a_protocol_error(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    transport.send(
        Notification("notifications/roots/list_changed"), ctx("notifications/roots/list_changed")
    )
    transport.send(Response(5, {}), SendContext(request_id=5))  # answering a server request
    stub.answers["ping"] = Reply(202)
    with pytest.raises(ProtocolError, match="202"):
        transport.send(Request(3, "ping"), ctx("ping", 3))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (406, "Not Acceptable: Client must accept both application/json and text/event-stream"),
        (405, ""),
        (413, "Payload Too Large"),
        (503, "busy"),
    ],
)
def test_http_errors_without_jsonrpc_body_raise_status_errors(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink, status: int, body: str
) -> None:
    initialize(transport, sink)
    stub.answers["tools/call"] = Reply(status, body, headers={"Retry-After": "3"})
    with pytest.raises(HTTPStatusError) as info:
        transport.send(Request(2, "tools/call", {"name": "x"}), ctx("tools/call", 2))
    assert info.value.status_code == status
    assert info.value.body_excerpt == body
    assert info.value.retry_after == 3.0
    # a notification refused the same way
    stub.answers["notifications/progress"] = Reply(status, body)
    with pytest.raises(HTTPStatusError):
        transport.send(Notification("notifications/progress", {}), ctx("notifications/progress"))


def test_http_error_with_jsonrpc_body_is_delivered_as_that_error(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32022, "message": "Unsupported", "data": {"supported": [V]}},
    }
    stub.answers["tools/list"] = Reply(400, body)
    transport.send(Request(7, "tools/list", {}), ctx("tools/list", 7))
    got = sink.next()
    assert isinstance(got, ErrorResponse) and got.id == 7
    assert got.error.code == -32022 and got.error.data == {"supported": [V]}


def test_modern_404_method_not_found_is_delivered(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    transport.start(sink)
    stub.answers["nope"] = Reply(
        404, {"jsonrpc": "2.0", "id": 4, "error": {"code": -32601, "message": "Method not found"}}
    )
    transport.send(Request(4, "nope", {}), ctx("nope", 4, version="2026-07-28", modern=True))
    got = sink.next()
    assert isinstance(got, ErrorResponse) and got.error.code == -32601


@pytest.mark.parametrize(
    "reply",
    [
        Reply(
            404,
            {
                "jsonrpc": "2.0",
                "id": "server-error",
                "error": {"code": -32600, "message": "Session not found"},
            },
        ),
        Reply(
            400,
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32000, "message": "Bad Request: No valid session ID provided"},
            },
        ),
        Reply(404, "Not Found"),
    ],
)
def test_lost_session_raises_session_expired(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink, reply: Reply
) -> None:
    initialize(transport, sink)
    stub.answers["tools/list"] = reply
    with pytest.raises(SessionExpiredError) as info:
        transport.send(Request(2, "tools/list", {}), ctx("tools/list", 2))
    assert info.value.session_id == SID and info.value.status_code == reply.status
    assert isinstance(info.value, TransportError)
    assert len(sink.lost) == 1 and isinstance(sink.lost[0], SessionExpiredError)
    posts = len(stub.posts())
    with pytest.raises(SessionExpiredError):  # sticky, nothing sent
        transport.send(Request(3, "ping"), ctx("ping", 3))
    assert len(stub.posts()) == posts
    # a new initialize (without the old id) starts a new session
    transport.send(INIT, SendContext(method="initialize", request_id=4, timeout_s=10))
    assert isinstance(sink.next(), Response)
    assert hdr(stub.posts("initialize")[-1], "Mcp-Session-Id") is None
    assert transport.session_id == SID
    transport.send(Request(5, "ping"), ctx("ping", 5))
    assert sink.next() == Response(5, {"echo": "ping"})


def test_400_about_something_else_is_not_a_lost_session(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    stub.answers["tools/list"] = Reply(
        400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32602, "message": "bad params"}}
    )
    transport.send(Request(2, "tools/list", {}), ctx("tools/list", 2))
    assert isinstance(sink.next(), ErrorResponse)
    assert transport.session_id == SID and not sink.lost


def test_malformed_oversized_and_unknown_answers(stub: MCPStub, sink: CollectingSink) -> None:
    t = StreamableHTTPTransport(stub.url, auto_listen=False, max_body_bytes=1000)
    try:
        initialize(t, sink)
        stub.answers["a"] = Reply(200, b"{not json", headers={"Content-Type": "application/json"})
        with pytest.raises(ProtocolError, match="undecodable"):
            t.send(Request(2, "a"), ctx("a", 2))
        stub.answers["b"] = Reply(200, {"jsonrpc": "2.0", "id": 3, "result": {"x": "y" * 2000}})
        with pytest.raises(ResponseTooLargeError):
            t.send(Request(3, "b"), ctx("b", 3))
        stub.answers["c"] = Reply(200, "hello", headers={"Content-Type": "text/html"})
        with pytest.raises(ProtocolError, match="Content-Type"):
            t.send(Request(4, "c"), ctx("c", 4))
        stub.answers["d"] = Reply(
            200, {"jsonrpc": "1.0", "id": 5}, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(ProtocolError):
            t.send(Request(5, "d"), ctx("d", 5))
        stub.answers["e"] = Reply(302, "", headers={"Location": "http://example.invalid/"})
        with pytest.raises(HTTPStatusError):  # redirects are not followed
            t.send(Request(6, "e"), ctx("e", 6))
        t.send(Request(7, "ping"), ctx("ping", 7))  # still usable
        assert sink.next() == Response(7, {"echo": "ping"})
    finally:
        t.close()


def test_batch_answer_is_split(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    stub.answers["x"] = Reply(
        200, [{"jsonrpc": "2.0", "method": "notifications/message", "params": {}}, result(2, {})]
    )
    transport.send(Request(2, "x"), ctx("x", 2))
    assert isinstance(sink.next(), Notification) and sink.next() == Response(2, {})


# -- broken streams --------------------------------------------------------------------------------


def test_truncated_stream_without_ids_fails_the_request(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    body = sse(
        event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}}),
        'data: {"jsonrpc"',
    )
    stub.answers["slow"] = Reply(200, body, headers={"Content-Type": "text/event-stream"})
    initialize(transport, sink)
    transport.send(Request(2, "slow"), ctx("slow", 2))
    assert isinstance(sink.next(), Notification)
    rid, error = sink.failures.get(timeout=10)
    assert rid == 2 and isinstance(error, ConnectionLostError)
    assert stub.server.count("GET") == 0  # no ids: nothing to resume


def test_without_the_hook_a_failed_stream_becomes_an_error_response(stub: MCPStub) -> None:
    stub.answers["slow"] = Reply(
        200, sse(": only a comment\n\n"), headers={"Content-Type": "text/event-stream"}
    )
    sink = HookLessSink()
    t = StreamableHTTPTransport(stub.url, auto_listen=False)
    try:
        t.start(sink)
        t.send(Request(9, "slow"), ctx("slow", 9))
        got = sink.messages.get(timeout=10)
        assert isinstance(got, ErrorResponse) and got.id == 9 and got.error.code == -32603
        assert got.error.data == {"transportError": "ConnectionLostError"}
    finally:
        t.close()


def test_dropped_stream_is_resumed_with_last_event_id(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "p", "progress": 1},
    }
    first = sse("id: prime-0\ndata: \nretry: 20\n\n", event(progress, eid="e1"))
    stub.answers["long"] = Reply(200, first, headers={"Content-Type": "text/event-stream"})
    gets: list[RequestInfo] = []

    def on_get(info: RequestInfo) -> Reply:
        gets.append(info)
        if len(gets) == 1:
            return Reply(
                200,
                sse(event(dict(progress, params={"progress": 2}), eid="e2")),
                headers={"Content-Type": "text/event-stream"},
            )
        return Reply(
            200,
            sse(event(result(2, {"ok": True}), eid="e3")),
            headers={"Content-Type": "text/event-stream"},
        )

    stub.server.routes[("GET", "/mcp")] = on_get
    initialize(transport, sink)
    started = time.monotonic()
    transport.send(Request(2, "long"), ctx("long", 2))
    got = sink.until(lambda m: isinstance(m, Response))
    assert [getattr(m, "params", None) and m.params.get("progress") for m in got[:-1]] == [1, 2]  # type: ignore[union-attr]
    assert got[-1] == Response(2, {"ok": True})
    assert [hdr(g, "Last-Event-ID") for g in gets] == ["e1", "e2"]
    assert all(
        hdr(g, "Mcp-Session-Id") == SID and hdr(g, "Accept") == "text/event-stream" for g in gets
    )
    assert time.monotonic() - started >= 0.04  # the server's retry (20 ms) was waited twice
    assert sink.failures.empty()


def test_resumption_gives_up_when_the_server_refuses(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    stub.answers["long"] = Reply(
        200, sse("id: a\ndata: \n\n"), headers={"Content-Type": "text/event-stream"}
    )
    stub.get_reply = Reply(405)
    initialize(transport, sink)
    transport.send(Request(2, "long"), ctx("long", 2))
    rid, error = sink.failures.get(timeout=10)
    assert rid == 2 and isinstance(error, HTTPStatusError)


def test_modern_streams_are_never_resumed(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    stub.answers["long"] = Reply(
        200, sse("id: a\ndata: \n\n"), headers={"Content-Type": "text/event-stream"}
    )
    transport.start(sink)
    transport.send(Request(2, "long", {}), ctx("long", 2, version="2026-07-28", modern=True))
    _rid, error = sink.failures.get(timeout=10)
    assert isinstance(error, ConnectionLostError) and stub.server.count("GET") == 0


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (sse(event("{not json")), None),
        (sse(event({"jsonrpc": "2.0", "id": 2, "result": {"x": "y" * 500}})), 200),
    ],
)
def test_malformed_or_oversized_event_fails_the_request(
    stub: MCPStub, sink: CollectingSink, body: bytes, limit: int | None
) -> None:
    stub.answers["x"] = Reply(200, body, headers={"Content-Type": "text/event-stream"})
    t = StreamableHTTPTransport(stub.url, auto_listen=False, max_event_bytes=limit)
    try:
        t.start(sink)
        t.send(Request(2, "x"), ctx("x", 2))
        rid, error = sink.failures.get(timeout=10)
        assert rid == 2 and isinstance(error, ProtocolError)
    finally:
        t.close()


# -- timeouts and connection failures --------------------------------------------------------------


def test_connect_error_and_read_timeout(stub: MCPStub, sink: CollectingSink) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = StreamableHTTPTransport(f"http://127.0.0.1:{port}/mcp", auto_listen=False)
    t.start(sink)
    with pytest.raises(ConnectError):
        t.send(INIT, SendContext(method="initialize", request_id=1, timeout_s=5))
    t.close()

    stub.answers["slow"] = Reply(200, result(2, {}), delay_s=3.0)
    t = StreamableHTTPTransport(stub.url, auto_listen=False)
    try:
        t.start(sink)
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            t.send(Request(2, "slow"), ctx("slow", 2, timeout_s=0.2))
        assert time.monotonic() - started < 2.5  # timeout_s + READ_GRACE_S, not the server delay
        cancels = [json.loads(r.body) for r in stub.posts("notifications/cancelled")]
        assert cancels == [
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": 2, "reason": "timeout"},
            }
        ]
    finally:
        t.close()


def test_many_threads_send_concurrently(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    errors: list[BaseException] = []

    def worker(base: int) -> None:
        try:
            for i in range(10):
                rid = base * 100 + i
                transport.send(Request(rid, "ping"), ctx("ping", rid))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    ids = {sink.next().id for _ in range(80)}  # type: ignore[union-attr]
    assert ids == {b * 100 + i for b in range(1, 9) for i in range(10)}


# -- modern era headers and cancel -----------------------------------------------------------------


def test_modern_headers_and_extra_headers(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    transport.start(sink)
    context = HTTPSendContext(
        method="tools/call",
        name="grüße",
        protocol_version="2026-07-28",
        modern=True,
        request_id=2,
        timeout_s=5,
        headers={"Mcp-Param-Region": encode_header_value("us-west1"), "Mcp-Method": "spoofed"},
    )
    transport.send(Request(2, "tools/call", {"name": "grüße"}), context)
    assert sink.next() == Response(2, {"echo": "tools/call"})
    info = stub.posts("tools/call")[0]
    assert hdr(info, "MCP-Protocol-Version") == "2026-07-28"
    assert hdr(info, "Mcp-Method") == "tools/call"
    assert hdr(info, "Mcp-Name") == "=?base64?Z3LDvMOfZQ==?="
    assert hdr(info, "Mcp-Param-Region") == "us-west1"
    assert hdr(info, "Mcp-Session-Id") is None


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        (42, "42"),
        (-7, "-7"),
        (True, "true"),
        (False, "false"),
        ("", ""),
    ],
)
def test_encode_header_value_matches_the_spec_table(value: Any, encoded: str) -> None:
    assert encode_header_value(value) == encoded


def test_encode_header_value_rejects_other_types() -> None:
    with pytest.raises(UsageError):
        encode_header_value(1.5)  # type: ignore[arg-type]


def _held_stream(first: bytes) -> Any:
    def handler(line: str, headers: dict[str, str], body: bytes, conn: socket.socket) -> None:
        msg = json.loads(body) if body else {}
        if msg.get("method") == "notifications/cancelled":
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(sse_head() + chunk(first))
        server_ref[0].hold_until_client_leaves(conn)

    server_ref: list[StreamingServer] = []
    return handler, server_ref


def test_modern_cancel_closes_the_response_stream(
    streaming_server: Any, sink: CollectingSink
) -> None:
    handler, ref = _held_stream(
        event(
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}
        ).encode()
    )
    server = streaming_server(handler)
    ref.append(server)
    t = StreamableHTTPTransport(server.url, auto_listen=False)
    try:
        t.start(sink)
        context = ctx("tools/call", 2, version="2026-07-28", modern=True)
        t.send(Request(2, "tools/call", {"name": "x"}), context)
        assert isinstance(sink.next(), Notification)
        t.cancel(2, "timeout", context)
        assert server.disconnected.wait(5)
        assert len(server.requests) == 1  # no notifications/cancelled POSTed
        assert sink.failures.empty()
    finally:
        t.close()


def test_handshake_cancel_posts_notifications_cancelled(
    streaming_server: Any, sink: CollectingSink
) -> None:
    handler, ref = _held_stream(b": keepalive\n\n")
    server = streaming_server(handler)
    ref.append(server)
    t = StreamableHTTPTransport(server.url, auto_listen=False)
    try:
        t.start(sink)
        context = ctx("tools/call", 2)
        t.send(Request(2, "tools/call", {"name": "x"}), context)
        t.cancel(2, "timeout", context)
        bodies = [json.loads(b) for _, _, b in server.requests if b]
        assert bodies[-1] == {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 2, "reason": "timeout"},
        }
        assert server.disconnected.wait(5)  # and the stream is no longer read
        assert sink.failures.empty()
    finally:
        t.close()


def test_close_stops_open_streams_quickly(streaming_server: Any, sink: CollectingSink) -> None:
    handler, ref = _held_stream(b": hello\n\n")
    server = streaming_server(handler)
    ref.append(server)
    t = StreamableHTTPTransport(server.url, auto_listen=False)
    t.start(sink)
    t.send(Request(2, "tools/call", {"name": "x"}), ctx("tools/call", 2, timeout_s=60))
    before = threading.active_count()
    started = time.monotonic()
    t.close()
    assert time.monotonic() - started < 3
    assert server.disconnected.wait(5)
    assert threading.active_count() <= before
    assert sink.failures.empty()
    assert isinstance(sink.lost[-1], ConnectionLostError)
    t.close()  # idempotent
    with pytest.raises(ConnectionLostError):
        t.send(Request(3, "ping"), ctx("ping", 3))


# -- GET stream and DELETE -------------------------------------------------------------------------


def test_listen_stream_405_means_none(
    stub: MCPStub, transport: StreamableHTTPTransport, sink: CollectingSink
) -> None:
    initialize(transport, sink)
    assert transport.open_listen_stream(wait_s=5) is False
    assert not transport.listening


def test_listen_stream_delivers_server_messages_and_reconnects(
    stub: MCPStub, sink: CollectingSink
) -> None:
    gets: list[RequestInfo] = []

    def on_get(info: RequestInfo) -> Reply:
        gets.append(info)
        if len(gets) == 1:
            body = sse(
                "retry: 10\n\n",
                event({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}, eid="g1"),
            )
        else:
            body = sse(
                event({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, eid="g2")
            )
        return Reply(200, body, headers={"Content-Type": "text/event-stream"})

    stub.server.routes[("GET", "/mcp")] = on_get
    t = StreamableHTTPTransport(stub.url, auto_listen=True, default_retry_s=0.01)
    try:
        initialize(t, sink)
        t.send(
            Notification("notifications/initialized"), ctx("notifications/initialized")
        )  # auto-opens
        assert sink.next() == Request(0, "roots/list", None)
        assert sink.next() == Notification("notifications/tools/list_changed", None)
        assert hdr(gets[0], "Last-Event-ID") is None and hdr(gets[1], "Last-Event-ID") == "g1"
        assert (
            hdr(gets[0], "Mcp-Session-Id") == SID and hdr(gets[0], "Accept") == "text/event-stream"
        )
    finally:
        t.close()


def test_close_deletes_the_session(stub: MCPStub, sink: CollectingSink) -> None:
    for status in (200, 405):
        stub.delete_reply = Reply(status)
        t = StreamableHTTPTransport(stub.url, auto_listen=False)
        initialize(t, sink)
        t.close()
        deletes = [r for r in stub.server.requests if r.method == "DELETE"]
        assert hdr(deletes[-1], "Mcp-Session-Id") == SID
    n = stub.server.count("DELETE")
    t = StreamableHTTPTransport(stub.url, auto_listen=False)  # stateless: nothing to delete
    t.start(sink)
    t.close()
    assert stub.server.count("DELETE") == n


def test_usage_errors(stub: MCPStub, sink: CollectingSink) -> None:
    with pytest.raises(UsageError):
        StreamableHTTPTransport("not a url")
    with pytest.raises(UsageError):
        StreamableHTTPTransport("ftp://x/mcp")
    t = StreamableHTTPTransport(stub.url)
    with pytest.raises(UsageError):
        t.send(INIT, SendContext())
    t.start(sink)
    with pytest.raises(UsageError):
        t.start(sink)
    assert t.era_cache_key() == f"http:{stub.url}"
    t.close()
