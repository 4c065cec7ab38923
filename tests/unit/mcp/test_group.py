"""MCPGroup naming and routing logic over scripted servers (MockTransport)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_fakes import FakeServer

from syncclients import MCPGroup, UsageError
from syncclients.errors import ConnectError
from syncclients.mcp import MCPClient, MockTransport


def server_with(tool_names: list[str], label: str) -> FakeServer:
    server = FakeServer()
    server.handlers["tools/list"] = lambda r: {
        "tools": [{"name": n, "inputSchema": {"type": "object"}} for n in tool_names]
    }
    server.handlers["tools/call"] = lambda r: {
        "content": [{"type": "text", "text": f"{label}:{r.params['name']}"}]
    }
    return server


def client_for(server: FakeServer) -> MCPClient:
    return MCPClient(lambda: MockTransport(server), hooks=())


def test_colliding_qualified_names_get_suffixes_and_route_correctly() -> None:
    a = client_for(server_with(["x__y", "z"], "A"))  # "a" + "x__y"  -> a__x__y
    b = client_for(server_with(["y"], "B"))  # "a__x" + "y" -> a__x__y (collision)
    with MCPGroup.from_clients({"a": a, "a__x": b}, owned=True) as group:
        tools = group.list_tools()
        assert [t.name for t in tools] == ["a__x__y", "a__z", "a__x__y~2"]
        assert group.call_qualified("a__x__y").text == "A:x__y"
        assert group.call_qualified("a__x__y~2").text == "B:y"
        assert group.resolve("a__z") == ("a", "z")


def test_listing_failure_raises_unless_skipped() -> None:
    def refusing() -> Any:
        raise ConnectError("refused", target="down")

    good = client_for(server_with(["t"], "G"))
    down = MCPClient(refusing, hooks=(), breaker=None)
    with MCPGroup.from_clients({"good": good, "down": down}, owned=True) as group:
        with pytest.raises(ConnectError):
            group.list_tools()
        assert [t.name for t in group.list_tools(skip_failed=True)] == ["good__t"]
        assert isinstance(group.listing_errors["down"], ConnectError)
        health = {h.server: h for h in group.health(timeout_s=2)}
        assert health["good"].ok
        assert not health["down"].ok
        assert "ConnectError" in (health["down"].error or "")


def test_empty_group_and_closed_group_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        MCPGroup.from_clients({})
    group = MCPGroup.from_clients({"a": client_for(server_with(["t"], "A"))}, owned=True)
    group.close()
    group.close()
    with pytest.raises(UsageError):
        group.client("a")
