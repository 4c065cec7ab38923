"""MCPClient caching (cache hints, list_changed eviction, read-only tool results) and
call_tool_batch, against the scripted FakeServer over MockTransport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from mcp_fakes import FakeServer

from syncclients import UsageError
from syncclients.errors import DeadlineExceeded, MCPError
from syncclients.mcp import MCPClient, MockTransport
from syncclients.mcp.messages import ErrorObject, Notification

MakeClient = Callable[..., tuple[MCPClient, MockTransport]]

TOOLS = [
    {"name": "lookup", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}},
    {"name": "write", "inputSchema": {"type": "object"}},
]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def server_with_tools(ttl_ms: int | None = None) -> FakeServer:
    server = FakeServer()
    listing: dict[str, Any] = {"tools": TOOLS}
    if ttl_ms is not None:
        listing["ttlMs"] = ttl_ms
    server.handlers["tools/list"] = lambda r: listing

    def call(r: Any) -> dict[str, Any] | ErrorObject:
        args = r.params["arguments"]
        if args.get("boom"):
            return ErrorObject(-32602, "bad arguments")
        if args.get("tool_error"):
            return {"content": [{"type": "text", "text": "nope"}], "isError": True}
        return {"content": [{"type": "text", "text": f"{r.params['name']}:{args.get('n')}"}]}

    server.handlers["tools/call"] = call
    return server


def count(server: FakeServer, method: str) -> int:
    return server.methods().count(method)


def test_list_cached_for_the_hinted_ttl_and_evicted_by_list_changed(
    make_client: MakeClient,
) -> None:
    server = server_with_tools(ttl_ms=60_000)
    client, transport = make_client(server)
    assert [t.name for t in client.list_tools()] == ["lookup", "write"]
    client.list_tools()
    assert count(server, "tools/list") == 1
    assert client.cache_stats().hits == 1
    transport.inject(Notification("notifications/tools/list_changed", None))
    wait_for(lambda: client.cache_stats().invalidations == 1)
    client.list_tools()
    assert count(server, "tools/list") == 2


def test_lists_without_a_hint_are_not_cached(make_client: MakeClient) -> None:
    server = server_with_tools(ttl_ms=None)
    client, _ = make_client(server)
    client.list_tools()
    client.list_tools()
    assert count(server, "tools/list") == 2


def test_resource_read_cached_by_hint_and_evicted_by_updated(make_client: MakeClient) -> None:
    server = server_with_tools()
    server.handlers["resources/read"] = lambda r: {
        "contents": [{"uri": r.params["uri"], "text": "v"}],
        "ttlMs": 30_000,
    }
    client, transport = make_client(server)
    assert client.read_resource("res://a").text == "v"
    client.read_resource("res://a")
    client.read_resource("res://b")
    assert count(server, "resources/read") == 2
    transport.inject(Notification("notifications/resources/updated", {"uri": "res://a"}))
    wait_for(lambda: client.cache_stats().invalidations == 1)
    client.read_resource("res://a")
    client.read_resource("res://b")
    assert count(server, "resources/read") == 3


def test_read_only_tool_results_cached_only_when_opted_in(make_client: MakeClient) -> None:
    server = server_with_tools()
    client, _ = make_client(server, cache_tool_results=True)
    client.list_tools()
    assert client.call_tool("lookup", {"n": 1, "m": 2}).text == "lookup:1"
    assert client.call_tool("lookup", {"m": 2, "n": 1}).text == "lookup:1"  # canonical key
    client.call_tool("write", {"n": 1})
    client.call_tool("write", {"n": 1})  # not read-only: never cached
    client.call_tool("lookup", {"tool_error": True})
    client.call_tool("lookup", {"tool_error": True})  # error results are not kept
    assert count(server, "tools/call") == 1 + 2 + 2
    assert client.invalidate_cache("lookup") == 1
    client.call_tool("lookup", {"n": 1, "m": 2})
    assert count(server, "tools/call") == 6

    other = server_with_tools()
    plain, _ = make_client(other)
    plain.list_tools()
    plain.call_tool("lookup", {"n": 1})
    plain.call_tool("lookup", {"n": 1})
    assert count(other, "tools/call") == 2  # off by default


def test_concurrent_identical_read_only_calls_make_one_request(make_client: MakeClient) -> None:
    server = server_with_tools()
    release = threading.Event()
    original = server.handlers["tools/call"]

    def slow(r: Any) -> Any:
        assert release.wait(5)
        return original(r)

    server.handlers["tools/call"] = slow
    client, _ = make_client(server, cache_tool_results=True)
    client.list_tools()
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.call_tool("lookup", {"n": 7}).text))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: count(server, "tools/call") >= 1)
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["lookup:7"] * 8
    assert count(server, "tools/call") == 1


def test_batch_outcomes_in_order_with_errors_kept(make_client: MakeClient) -> None:
    client, _ = make_client(server_with_tools())
    calls = [("write", {"n": i}) for i in range(20)]
    calls[5] = ("write", {"boom": True})
    calls[9] = ("write", {"tool_error": True})
    outcomes = client.call_tool_batch(calls, max_workers=4)
    assert len(outcomes) == 20
    assert [o.index for o in outcomes] == list(range(20))
    assert outcomes[0].result is not None
    assert outcomes[0].result.text == "write:0"
    assert isinstance(outcomes[5].error, MCPError)
    assert outcomes[5].status == "error"
    assert not outcomes[9].ok  # the tool answered isError: a failed call, result kept
    assert outcomes[9].status == "tool_error" and outcomes[9].error is None
    assert outcomes[9].result is not None
    assert outcomes[9].result.is_error
    assert all(o.attempts == 1 for o in outcomes)


def test_batch_deadline_marks_unanswered_calls(make_client: MakeClient) -> None:
    server = server_with_tools()
    server.handlers["tools/call"] = lambda r: None  # never answers
    client, _ = make_client(server)
    started = time.monotonic()
    outcomes = client.call_tool_batch(
        [("write", {"n": i}) for i in range(6)], max_workers=2, deadline=0.3
    )
    assert time.monotonic() - started < 3
    assert len(outcomes) == 6
    assert all(not o.ok for o in outcomes)
    assert all(isinstance(o.error, TimeoutError) for o in outcomes), [
        type(o.error).__name__ + str(o.error) for o in outcomes
    ]
    assert any(isinstance(o.error, DeadlineExceeded) for o in outcomes)


def test_batch_rejects_malformed_calls_before_sending(make_client: MakeClient) -> None:
    server = server_with_tools()
    client, _ = make_client(server)
    for bad in ([("write",)], [("", {})], [("write", [1, 2])], ["write"]):
        with pytest.raises(UsageError):
            client.call_tool_batch(bad)  # type: ignore[arg-type]
    assert count(server, "tools/call") == 0
