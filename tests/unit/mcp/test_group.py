"""MCPGroup naming and routing logic over scripted servers (MockTransport)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp_fakes import FakeServer

from syncclients import MCPGroup, UsageError
from syncclients.errors import ConnectError
from syncclients.mcp import GroupToolListing, MCPClient, MockTransport


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


class Refusing:
    """A transport factory that always fails to connect, counting its attempts."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        raise ConnectError("refused", target="down")


def test_one_broken_server_does_not_fail_the_listing_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = client_for(server_with(["t"], "G"))
    down = MCPClient(Refusing(), hooks=(), breaker=None)
    with MCPGroup.from_clients({"good": good, "down": down}, owned=True) as group:
        with caplog.at_level(logging.WARNING, logger="syncclients.mcp"):
            listing = group.list_tools()
        assert [t.name for t in listing] == ["good__t"]
        assert isinstance(listing, GroupToolListing)
        assert isinstance(listing.errors["down"], ConnectError)
        assert list(listing.errors) == ["down"]
        assert group.listing_errors == listing.errors
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "'down'" in warnings[0].getMessage()
        # strict=True (or the older skip_failed=False) raises the failure instead.
        with pytest.raises(ConnectError):
            group.list_tools(strict=True)
        with pytest.raises(ConnectError):
            group.list_tools(skip_failed=False)
        assert [t.name for t in group.list_tools(skip_failed=True)] == ["good__t"]
        health = {h.server: h for h in group.health(timeout_s=2)}
        assert health["good"].ok
        assert not health["down"].ok
        assert "ConnectError" in (health["down"].error or "")


def test_every_server_broken_gives_an_empty_listing_naming_them_all() -> None:
    a = MCPClient(Refusing(), hooks=(), breaker=None)
    b = MCPClient(Refusing(), hooks=(), breaker=None)
    with MCPGroup.from_clients({"a": a, "b": b}, owned=True) as group:
        listing = group.list_tools()
        assert listing == []
        assert sorted(listing.errors) == ["a", "b"]


def test_listing_some_servers_starts_only_those() -> None:
    refusing = Refusing()
    good = client_for(server_with(["t"], "G"))
    other = client_for(server_with(["u"], "O"))
    down = MCPClient(refusing, hooks=(), breaker=None)
    clients = {"good": good, "down": down, "other": other}
    with MCPGroup.from_clients(clients, owned=True) as group:
        listing = group.list_tools(servers=["other", "good"])
        assert [t.name for t in listing] == ["good__t", "other__u"]  # configuration order
        assert listing.errors == {}
        assert refusing.calls == 0
        with pytest.raises(UsageError):
            group.list_tools(servers=["nope"])


def test_a_qualified_name_of_one_server_starts_only_that_server() -> None:
    refusing = Refusing()
    good_server = server_with(["t", "u"], "G")
    good = client_for(good_server)
    down = MCPClient(refusing, hooks=(), breaker=None)
    with MCPGroup.from_clients({"down": down, "good": good}, owned=True) as group:
        assert group.servers_for("good__t") == ["good"]
        assert group.call_qualified("good__t").text == "G:t"
        assert group.resolve("good__u") == ("good", "u")
        listed = good_server.methods().count("tools/list")
        assert group.call_qualified("good__t").text == "G:t"  # resolved once, then remembered
        assert good_server.methods().count("tools/list") == listed
        with pytest.raises(UsageError, match="no tool named 'good__v'"):
            group.resolve("good__v")
        with pytest.raises(UsageError, match="no tool named 'nobody__t'"):
            group.resolve("nobody__t")  # no server owns the prefix: nothing is listed
        assert refusing.calls == 0
        # The server a name belongs to is broken: its own error, not "no such tool".
        with pytest.raises(ConnectError):
            group.resolve("down__t")


def test_a_name_two_servers_could_own_lists_the_group() -> None:
    a = client_for(server_with(["x__y"], "A"))
    b = client_for(server_with(["y"], "B"))
    refusing = Refusing()
    down = MCPClient(refusing, hooks=(), breaker=None)
    with MCPGroup.from_clients({"a": a, "a__x": b, "down": down}, owned=True) as group:
        assert group.servers_for("a__x__y") == ["a", "a__x"]
        assert group.call_qualified("a__x__y~2").text == "B:y"
        assert refusing.calls >= 1  # the whole group was listed; the broken server left out
        assert group.call_qualified("a__x__y").text == "A:x__y"


def test_empty_group_and_closed_group_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        MCPGroup.from_clients({})
    group = MCPGroup.from_clients({"a": client_for(server_with(["t"], "A"))}, owned=True)
    group.close()
    group.close()
    with pytest.raises(UsageError):
        group.client("a")
