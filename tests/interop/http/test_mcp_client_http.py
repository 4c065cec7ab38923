"""MCPClient.http / MCPClient.sse end to end against real servers on 127.0.0.1:
the official SDK (both eras, stateless JSON, legacy SSE) and server-everything."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from mcp_http_helpers import ServerProcess, start_sdk_server

from syncclients import MCPClient
from syncclients.errors import (
    MCPError,
    SessionExpiredError,
    SyncClientsError,
    UnsupportedProtocolVersionError,
)
from syncclients.mcp import CreateMessageResult, ElicitResult, Progress, Root

HANDSHAKE = "2025-11-25"


def drop_session(url: str, client: MCPClient) -> str:
    """End the client's session behind its back (as a server restart or expiry would)."""
    session = client._session
    assert session is not None
    session_id = session.transport.session_id  # type: ignore[attr-defined]
    assert session_id
    requests.delete(
        url, headers={"Mcp-Session-Id": session_id, "MCP-Protocol-Version": HANDSHAKE}, timeout=10
    ).close()
    return str(session_id)


@pytest.mark.parametrize("era", ["legacy", "2026-07-28", "auto"])
def test_surface_over_streamable_http(sdk_streamable: ServerProcess, era: str) -> None:
    progress: list[Progress] = []
    lock = threading.Lock()

    def on_progress(p: Progress) -> None:
        with lock:
            progress.append(p)

    with MCPClient.http(sdk_streamable.base + "/mcp", era=era, hooks=()) as client:
        assert client.era == ("legacy" if era == "legacy" else "modern")
        client.ping()
        names = {t.name for t in client.list_tools()}
        assert {"add", "echo", "sleep"} <= names
        assert client.call_tool("add", {"a": 20, "b": 22}).text == "42"
        assert client.call_tool("echo", {"text": "✅ ok"}).text == "✅ ok"  # U+0085 pitfall
        assert client.call_tool("fail", {"message": "boom"}).is_error
        assert client.read_resource("res://hello").text
        assert [p.name for p in client.list_prompts()] == ["review"]
        assert "python" in client.get_prompt("review", {"code": "x = 1"}).raw.__repr__()
        result = client.call_tool("sleep", {"seconds": 0.2}, on_progress=on_progress)
        assert result.text == "slept"
        # every progress notification sent before the result reaches the callback
        assert [p.progress for p in progress] == [0, 1, 2, 3, 4]


def test_400_concurrent_calls_from_8_threads(sdk_streamable: ServerProcess) -> None:
    with MCPClient.http(sdk_streamable.base + "/mcp", hooks=()) as client:

        def work(worker: int) -> list[str]:
            return [client.call_tool("add", {"a": worker, "b": i}).text for i in range(50)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
    for worker, texts in enumerate(results):
        assert texts == [str(worker + i) for i in range(50)]


def test_lost_session_is_renewed_and_safe_calls_replayed(sdk_streamable: ServerProcess) -> None:
    url = sdk_streamable.base + "/mcp"
    with MCPClient.http(url, era="legacy", hooks=()) as client:
        client.list_tools()  # learns that "add" is read-only
        old = drop_session(url, client)
        assert client.call_tool("add", {"a": 1, "b": 2}).text == "3"  # replayed: read-only
        new = drop_session(url, client)
        assert new != old
        assert len(client.list_tools()) > 0  # lists are safe: replayed
        drop_session(url, client)
        with pytest.raises(SessionExpiredError):  # not idempotent: the caller decides
            client.call_tool("echo", {"text": "once"})
        assert client.call_tool("echo", {"text": "again"}).text == "again"  # new session


def test_server_restart_is_invisible_to_safe_calls(server_tmp: Path) -> None:
    first = start_sdk_server("streamable", server_tmp)
    port = first.port
    try:
        with MCPClient.http(first.base + "/mcp", era="legacy", hooks=()) as client:
            client.list_tools()
            assert client.call_tool("add", {"a": 2, "b": 2}).text == "4"
            first.stop()
            second = start_sdk_server("streamable", server_tmp, port=port)
            try:
                assert client.call_tool("add", {"a": 3, "b": 3}).text == "6"
                assert len(client.list_tools()) > 0
            finally:
                second.stop()
    finally:
        first.stop()


def test_stateless_json_server(sdk_stateless_json: ServerProcess) -> None:
    with MCPClient.http(sdk_stateless_json.base + "/mcp", hooks=()) as client:
        assert client.call_tool("add", {"a": 5, "b": 6}).text == "11"
        outcomes = client.call_tool_batch([("add", {"a": i, "b": 1}) for i in range(30)])
    assert [o.result.text for o in outcomes if o.result] == [str(i + 1) for i in range(30)]


def test_legacy_http_sse_server(sdk_legacy_sse: ServerProcess) -> None:
    with MCPClient.sse(sdk_legacy_sse.base + "/sse", hooks=()) as client:
        assert client.era == "legacy"
        assert "add" in {t.name for t in client.list_tools()}
        assert client.call_tool("add", {"a": 1, "b": 1}).text == "2"
        with pytest.raises(MCPError):
            client.read_resource("res://missing")


def test_server_everything_callbacks_and_surface(everything: ServerProcess) -> None:
    seen: dict[str, object] = {}
    progress: list[Progress] = []

    def sampling(request):  # type: ignore[no-untyped-def]
        seen["sampling"] = request.max_tokens
        return CreateMessageResult(text="a sampled answer", model="test-model")

    def elicitation(request):  # type: ignore[no-untyped-def]
        seen["elicitation"] = request.message
        return ElicitResult("accept", {"name": "Ada", "check": True, "email": "ada@example.com"})

    def roots():  # type: ignore[no-untyped-def]
        return [Root("file:///tmp/project", "project")]

    with MCPClient.http(
        everything.base + "/mcp",
        sampling=sampling,
        elicitation=elicitation,
        roots=roots,
        hooks=(),
    ) as client:
        assert client.era == "legacy"  # server-everything is handshake-only: auto fell back
        names = {t.name for t in client.list_tools()}
        assert {"echo", "get-sum", "trigger-sampling-request", "get-roots-list"} <= names
        assert "is 5" in client.call_tool("get-sum", {"a": 2, "b": 3}).text
        result = client.call_tool(
            "trigger-long-running-operation",
            {"duration": 1, "steps": 5},
            on_progress=progress.append,
            timeout=30,
        )
        assert not result.is_error
        assert len(progress) == 5
        sampled = client.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 20})
        assert "a sampled answer" in sampled.text
        assert seen["sampling"] == 20
        assert "file:///tmp/project" in client.call_tool("get-roots-list", {}).text
        elicited = client.call_tool("trigger-elicitation-request", {})
        assert not elicited.is_error
        assert "elicitation" in seen
        assert len(client.list_resources()) >= 1
        assert len(client.list_resource_templates()) >= 1
        assert client.read_resource(client.list_resources()[0].uri).contents
        prompts = {p.name for p in client.list_prompts()}
        assert "simple-prompt" in prompts
        assert client.get_prompt("simple-prompt").messages
        completion = client.complete(prompt="completable-prompt", argument="department", value="E")
        assert completion.values


def test_modern_only_server(sdk_modern_only: ServerProcess) -> None:
    url = sdk_modern_only.base + "/mcp"
    with MCPClient.http(url, hooks=()) as client:
        assert client.era == "modern"
        assert client.protocol_version == "2026-07-28"
        assert client.call_tool("add", {"a": 1, "b": 2}).text == "3"
    client = MCPClient.http(url, era="legacy", hooks=())
    try:
        with pytest.raises(UnsupportedProtocolVersionError) as info:
            client.connect()
        assert info.value.supported == ("2026-07-28",) or "2026-07-28" in info.value.supported
    finally:
        client.close()


def test_handshake_only_server(sdk_handshake_only: ServerProcess) -> None:
    url = sdk_handshake_only.base + "/mcp"
    with MCPClient.http(url, hooks=()) as client:
        assert client.era == "legacy"  # the discover probe was refused: fell back
        assert client.call_tool("add", {"a": 4, "b": 4}).text == "8"
    client = MCPClient.http(url, era="2026-07-28", hooks=())
    try:
        with pytest.raises(SyncClientsError):
            client.connect()
    finally:
        client.close()
