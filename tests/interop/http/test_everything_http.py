"""StreamableHTTPTransport against the npm reference server
``@modelcontextprotocol/server-everything`` (streamableHttp mode) on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from mcp_http_helpers import (
    HANDSHAKE,
    CollectingSink,
    ServerProcess,
    TCPProxy,
    call,
    initialize,
    text_of,
)

from syncclients.errors import SessionExpiredError
from syncclients.mcp.messages import Notification, Request, Response
from syncclients.mcp.transport import SendContext
from syncclients.transports.streamable_http import StreamableHTTPTransport

pytestmark = pytest.mark.interop

CAPABILITIES = {"roots": {}, "sampling": {}}


def answer(request: Request) -> dict[str, Any]:
    if request.method == "roots/list":
        return {"roots": [{"uri": "file:///work", "name": "work ✅"}]}
    if request.method == "sampling/createMessage":
        return {
            "role": "assistant",
            "content": {"type": "text", "text": "sampled ✅"},
            "model": "test",
            "stopReason": "endTurn",
        }
    if request.method == "ping":
        return {}
    raise AssertionError(request)


def test_flow_progress_server_requests_and_get_stream(
    everything: ServerProcess, sink: CollectingSink
) -> None:
    t = StreamableHTTPTransport(everything.base + "/mcp")
    try:
        t.start(sink)
        result = initialize(t, sink, capabilities=CAPABILITIES)
        assert result["protocolVersion"] == HANDSHAKE and t.session_id
        # the GET stream opened after notifications/initialized: the server asks for roots on it
        assert t.open_listen_stream(wait_s=10) is True
        roots_request = sink.until(lambda m: isinstance(m, Request) and m.method == "roots/list")[
            -1
        ]
        assert isinstance(roots_request, Request)
        t.send(
            Response(roots_request.id, answer(roots_request)),
            SendContext(request_id=roots_request.id),
        )

        tools = call(t, sink, 2, "tools/list", answer=answer)[-1]
        assert isinstance(tools, Response)
        names = {tool["name"] for tool in tools.result["tools"]}
        assert {
            "echo",
            "trigger-long-running-operation",
            "trigger-sampling-request",
            "get-roots-list",
        } <= names

        assert (
            text_of(
                call(
                    t,
                    sink,
                    3,
                    "tools/call",
                    {"name": "echo", "arguments": {"message": "héllo ✅"}},
                    answer=answer,
                )[-1]
            )
            == "Echo: héllo ✅"
        )

        seen = call(
            t,
            sink,
            4,
            "tools/call",
            {
                "name": "trigger-long-running-operation",
                "arguments": {"duration": 0.6, "steps": 3},
                "_meta": {"progressToken": "p"},
            },
            answer=answer,
        )
        progress = [
            m.params
            for m in seen
            if isinstance(m, Notification) and m.method == "notifications/progress"
        ]
        assert [p["progress"] for p in progress] == [1, 2, 3]  # type: ignore[index]
        assert "Long running operation completed" in text_of(seen[-1])

        # a server request (sampling) on the POST's SSE stream, answered by a POST
        seen = call(
            t,
            sink,
            5,
            "tools/call",
            {"name": "trigger-sampling-request", "arguments": {"prompt": "hi", "maxTokens": 5}},
            answer=answer,
        )
        assert any(isinstance(m, Request) and m.method == "sampling/createMessage" for m in seen)
        assert "sampled ✅" in text_of(seen[-1])

        assert "file:///work" in text_of(
            call(
                t, sink, 6, "tools/call", {"name": "get-roots-list", "arguments": {}}, answer=answer
            )[-1]
        )
    finally:
        t.close()
    assert sink.failures.empty()


def test_dropped_stream_is_resumed_with_last_event_id(
    everything: ServerProcess, sink: CollectingSink, proxy_factory: Callable[[int], TCPProxy]
) -> None:
    proxy = proxy_factory(everything.port)
    # server-everything sends no retry field: the 2.5 s default lets the operation finish
    # first, so the resumed GET replays the rest of the stream (progress 2 and the result)
    t = StreamableHTTPTransport(
        f"http://127.0.0.1:{proxy.port}/mcp", auto_listen=False, default_retry_s=2.5
    )
    try:
        t.start(sink)
        initialize(t, sink)
        params = {
            "name": "trigger-long-running-operation",
            "arguments": {"duration": 1, "steps": 2},
            "_meta": {"progressToken": "r"},
        }
        t.send(
            Request(2, "tools/call", params),
            SendContext(
                method="tools/call",
                name=params["name"],
                protocol_version=HANDSHAKE,
                request_id=2,
                timeout_s=60,  # room for a second resume if a slow machine resumes too early
            ),
        )
        first = sink.next()
        assert isinstance(first, Notification) and first.params["progress"] == 1  # type: ignore[index]
        connections = proxy.accepted
        assert proxy.drop_all() >= 1  # the POST's stream is cut mid-call
        rest = sink.until(lambda m: isinstance(m, Response) and m.id == 2, timeout_s=90)
        assert [m.params["progress"] for m in rest if isinstance(m, Notification)] == [2]  # type: ignore[index]
        assert "Long running operation completed" in text_of(rest[-1])
        assert proxy.accepted > connections  # the resuming GET
        assert sink.failures.empty()
    finally:
        t.close()


def test_close_deletes_the_session_and_lost_session_is_typed(
    everything: ServerProcess, sink: CollectingSink
) -> None:
    url = everything.base + "/mcp"
    t = StreamableHTTPTransport(url)
    t.start(sink)
    initialize(t, sink)
    old = t.session_id
    assert old
    t.close()
    probe = requests.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={
            "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": old,
            "MCP-Protocol-Version": HANDSHAKE,
        },
        timeout=10,
    )
    assert probe.status_code in (400, 404)
    assert "session" in json.dumps(probe.json()).lower()

    sink2 = CollectingSink()
    t = StreamableHTTPTransport(url)
    try:
        t.start(sink2)
        initialize(t, sink2)
        session = t.session_id
        requests.delete(
            url,
            headers={"Mcp-Session-Id": session or "", "MCP-Protocol-Version": HANDSHAKE},
            timeout=10,
        ).close()
        with pytest.raises(SessionExpiredError) as info:
            call(t, sink2, 2, "tools/list", answer=answer)
        assert info.value.session_id == session and info.value.status_code in (400, 404)
        assert not t.listening  # the GET stream of the dead session was stopped
        initialize(t, sink2, rid=3)  # a new session over the same transport
        assert t.session_id and t.session_id != session
        assert (
            text_of(
                call(
                    t,
                    sink2,
                    4,
                    "tools/call",
                    {"name": "echo", "arguments": {"message": "back"}},
                    answer=answer,
                )[-1]
            )
            == "Echo: back"
        )
    finally:
        t.close()
