"""The HTTP transports against the official Python SDK (mcp 2.3.0) on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from mcp_http_helpers import (
    HANDSHAKE,
    MODERN,
    CollectingSink,
    ServerProcess,
    call,
    initialize,
    text_of,
)

from syncclients.errors import SessionExpiredError
from syncclients.mcp.messages import ErrorResponse, Notification, Request, Response
from syncclients.mcp.transport import SendContext
from syncclients.transports.legacy_sse import LegacySSETransport
from syncclients.transports.streamable_http import StreamableHTTPTransport

pytestmark = pytest.mark.interop


def roots_and_elicitation(request: Request) -> dict[str, Any]:
    if request.method == "roots/list":
        return {
            "roots": [
                {"uri": "file:///work", "name": "work"},
                {"uri": "file:///tmp", "name": "tmp"},
            ]
        }
    if request.method == "elicitation/create":
        return {"action": "accept", "content": {"name": "Ada ✅"}}
    raise AssertionError(request)


# -- Streamable HTTP with sessions and SSE answers -----------------------------------------------


def test_handshake_flow_over_sse(sdk_streamable: ServerProcess, sink: CollectingSink) -> None:
    t = StreamableHTTPTransport(sdk_streamable.base + "/mcp")
    try:
        t.start(sink)
        result = initialize(t, sink, capabilities={"roots": {}, "elicitation": {}})
        assert result["protocolVersion"] == HANDSHAKE
        assert t.session_id and t.protocol_version == HANDSHAKE

        tools = call(t, sink, 2, "tools/list")[-1]
        assert isinstance(tools, Response)
        assert {"add", "echo", "sleep", "count_roots"} <= {
            tool["name"] for tool in tools.result["tools"]
        }
        assert (
            text_of(
                call(t, sink, 3, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 40}})[-1]
            )
            == "42"
        )

        # progress notifications on the POST's SSE stream, then the result
        seen = call(
            t,
            sink,
            4,
            "tools/call",
            {"name": "sleep", "arguments": {"seconds": 0.2}, "_meta": {"progressToken": "tok"}},
        )
        progress = [
            m.params
            for m in seen
            if isinstance(m, Notification) and m.method == "notifications/progress"
        ]
        assert [p["progress"] for p in progress] == [0, 1, 2, 3, 4]  # type: ignore[index]
        assert all(p["progressToken"] == "tok" for p in progress)  # type: ignore[index]

        # a log notification whose UTF-8 holds 0x85 ("✅")
        seen = call(
            t, sink, 5, "tools/call", {"name": "log_something", "arguments": {"message": "done ✅"}}
        )
        logs = [
            m for m in seen if isinstance(m, Notification) and m.method == "notifications/message"
        ]
        assert logs[0].params["data"] == "done ✅"  # type: ignore[index]

        # server requests on the POST stream, answered by POSTing responses
        assert (
            text_of(
                call(
                    t,
                    sink,
                    6,
                    "tools/call",
                    {"name": "count_roots", "arguments": {}},
                    answer=roots_and_elicitation,
                )[-1]
            )
            == "file:///work,file:///tmp"
        )
        assert (
            text_of(
                call(
                    t,
                    sink,
                    7,
                    "tools/call",
                    {"name": "greet_user", "arguments": {}},
                    answer=roots_and_elicitation,
                )[-1]
            )
            == "Hello, Ada ✅!"
        )

        # the GET stream is offered (opened automatically after notifications/initialized)
        assert t.open_listen_stream(wait_s=10) is True
        assert t.listening
    finally:
        t.close()
    assert not sink.failures.qsize()


def test_close_deletes_the_session_and_a_lost_session_is_typed(
    sdk_streamable: ServerProcess, sink: CollectingSink
) -> None:
    url = sdk_streamable.base + "/mcp"
    t = StreamableHTTPTransport(url, auto_listen=False)
    t.start(sink)
    initialize(t, sink)
    session = t.session_id
    assert session
    t.close()
    # the server forgot it: a POST with that id now gets 404
    probe = requests.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={
            "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": HANDSHAKE,
        },
        timeout=10,
    )
    assert probe.status_code == 404

    # a session terminated behind the transport's back raises SessionExpiredError
    sink2 = CollectingSink()
    t = StreamableHTTPTransport(url, auto_listen=False)
    try:
        t.start(sink2)
        initialize(t, sink2)
        old = t.session_id
        assert old
        requests.delete(
            url, headers={"Mcp-Session-Id": old, "MCP-Protocol-Version": HANDSHAKE}, timeout=10
        ).close()
        with pytest.raises(SessionExpiredError) as info:
            call(t, sink2, 2, "tools/list")
        assert info.value.status_code == 404 and info.value.session_id == old
        assert isinstance(sink2.lost[0], SessionExpiredError)
        # re-initialize over the same transport: a new session, and calls work again
        initialize(t, sink2, rid=3)
        assert t.session_id and t.session_id != old
        assert (
            text_of(
                call(t, sink2, 4, "tools/call", {"name": "echo", "arguments": {"text": "again"}})[
                    -1
                ]
            )
            == "again"
        )
    finally:
        t.close()


def test_handshake_cancel_posts_notifications_cancelled(
    sdk_streamable: ServerProcess, sink: CollectingSink
) -> None:
    t = StreamableHTTPTransport(sdk_streamable.base + "/mcp", auto_listen=False)
    try:
        t.start(sink)
        initialize(t, sink)
        context = SendContext(
            method="tools/call",
            name="sleep",
            protocol_version=HANDSHAKE,
            request_id=2,
            timeout_s=30,
        )
        t.send(
            Request(
                2,
                "tools/call",
                {"name": "sleep", "arguments": {"seconds": 20}, "_meta": {"progressToken": 1}},
            ),
            context,
        )
        assert isinstance(sink.next(), Notification)  # the first progress: it is running
        t.cancel(2, "test", context)
        assert sdk_streamable.wait_for_stderr("SLEEP-CANCELLED")
    finally:
        t.close()


# -- the modern era (2026-07-28) over the same endpoint ----------------------------------------------


def test_modern_era_headers_and_cancel_by_closing_the_stream(
    sdk_streamable: ServerProcess, sink: CollectingSink
) -> None:
    t = StreamableHTTPTransport(sdk_streamable.base + "/mcp")
    try:
        t.start(sink)
        discover = call(t, sink, 1, "server/discover", {}, version=MODERN, modern=True)[-1]
        assert isinstance(discover, Response) and MODERN in discover.result["supportedVersions"]
        listed = call(t, sink, 2, "tools/list", {}, version=MODERN, modern=True)[-1]
        assert isinstance(listed, Response) and listed.result["tools"]
        # Mcp-Name must match params.name (the server checks the headers)
        assert (
            text_of(
                call(
                    t,
                    sink,
                    3,
                    "tools/call",
                    {"name": "echo", "arguments": {"text": "grüße ✅"}},
                    version=MODERN,
                    modern=True,
                )[-1]
            )
            == "grüße ✅"
        )
        missing = call(t, sink, 4, "nope/nope", {}, version=MODERN, modern=True)[-1]
        assert isinstance(missing, ErrorResponse) and missing.error.code == -32601
        assert t.session_id is None

        # cancel = close the response stream (no notifications/cancelled in this era)
        context = SendContext(
            method="tools/call",
            name="sleep",
            protocol_version=MODERN,
            modern=True,
            request_id=5,
            timeout_s=30,
        )
        params = {
            "name": "sleep",
            "arguments": {"seconds": 20},
            "_meta": {
                "progressToken": "m",
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        }
        t.send(Request(5, "tools/call", params), context)
        assert isinstance(sink.next(), Notification)
        t.cancel(5, "test", context)
        assert sdk_streamable.wait_for_stderr("SLEEP-CANCELLED")
        assert sink.failures.empty()
    finally:
        t.close()


# -- stateless JSON mode ----------------------------------------------------------------------------


def test_stateless_json_mode(sdk_stateless_json: ServerProcess, sink: CollectingSink) -> None:
    t = StreamableHTTPTransport(sdk_stateless_json.base + "/mcp")
    try:
        t.start(sink)
        initialize(t, sink)
        assert t.session_id is None
        tools = call(t, sink, 2, "tools/list")[-1]
        assert isinstance(tools, Response) and tools.result["tools"]
        assert (
            text_of(
                call(t, sink, 3, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})[-1]
            )
            == "3"
        )
        # no session: no GET stream is opened automatically; asked for, the SDK still
        # offers one (200 SSE with keepalive pings), and close() ends it promptly
        assert not t.listening
        assert t.open_listen_stream(wait_s=10) is True
    finally:
        t.close()


# -- legacy HTTP+SSE (2024-11-05) ----------------------------------------------------------------------


def test_legacy_sse_flow(sdk_legacy_sse: ServerProcess, sink: CollectingSink) -> None:
    t = LegacySSETransport(sdk_legacy_sse.base + "/sse")
    try:
        t.start(sink)
        assert t.endpoint and t.endpoint.startswith(sdk_legacy_sse.base + "/messages/")
        initialize(t, sink, capabilities={"roots": {}}, version="2024-11-05")
        tools = call(t, sink, 2, "tools/list", version="2024-11-05")[-1]
        assert isinstance(tools, Response) and tools.result["tools"]
        seen = call(
            t,
            sink,
            3,
            "tools/call",
            {"name": "sleep", "arguments": {"seconds": 0.1}, "_meta": {"progressToken": 9}},
            version="2024-11-05",
        )
        assert (
            sum(isinstance(m, Notification) and m.method == "notifications/progress" for m in seen)
            == 5
        )
        assert text_of(seen[-1]) == "slept"
        assert (
            text_of(
                call(
                    t,
                    sink,
                    4,
                    "tools/call",
                    {"name": "count_roots", "arguments": {}},
                    answer=roots_and_elicitation,
                    version="2024-11-05",
                )[-1]
            )
            == "file:///work,file:///tmp"
        )
        assert (
            text_of(
                call(
                    t,
                    sink,
                    5,
                    "tools/call",
                    {"name": "echo", "arguments": {"text": "✅"}},
                    version="2024-11-05",
                )[-1]
            )
            == "✅"
        )
    finally:
        t.close()
    assert sink.lost and "closed" in str(sink.lost[0])
