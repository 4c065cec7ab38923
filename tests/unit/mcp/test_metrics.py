"""MCPClient.metrics() and MCPGroup.metrics(): HTTPClient's fields plus MCP's own, against
the scripted FakeServer over MockTransport."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from mcp_fakes import FakeServer
from test_cache_and_batch import server_with_tools, wait_for

from syncclients import BreakerPolicy, ClientMetrics, MCPGroup, RetryBudgetPolicy
from syncclients.errors import MCPError
from syncclients.mcp import MCPClient, MCPClientMetrics, MockTransport
from syncclients.mcp.messages import Notification
from syncclients.mcp.types import LogMessage

MakeClient = Callable[..., tuple[MCPClient, MockTransport]]


def test_same_field_names_as_http_client_metrics_plus_mcp_ones() -> None:
    http = {f.name for f in dataclasses.fields(ClientMetrics)}
    mcp = {f.name for f in dataclasses.fields(MCPClientMetrics)}
    assert http < mcp
    assert mcp - http == {
        "cache_hits",
        "cache_misses",
        "cache_size",
        "dropped_notifications",
        "coalesced_notifications",
        "rejected_server_requests",
    }


def test_metrics_count_calls_errors_latency_breaker_budget_cache(
    make_client: MakeClient,
) -> None:
    client, _ = make_client(
        server_with_tools(ttl_ms=60_000),
        breaker=BreakerPolicy(failure_threshold=5, recovery_timeout_s=30.0),
        retry_budget=RetryBudgetPolicy(),
        cache_lists=True,
    )
    before = client.metrics()
    assert isinstance(before, ClientMetrics)
    assert before.latency_p50_s is None
    client.list_tools()
    client.list_tools()  # from the cache: a hit, not a call
    client.call_tool("write", {"n": 1})
    with pytest.raises(MCPError):
        client.call_tool("write", {"boom": True})
    m = client.metrics()
    assert m.calls - before.calls == 3
    assert (m.successes - before.successes, m.errors - before.errors) == (2, 1)
    assert m.attempts - before.attempts == 3 and m.retries == 0 and m.rejected == 0
    assert m.latency_p50_s is not None and m.latency_max_s is not None
    assert 0 <= m.latency_p50_s <= m.latency_max_s
    assert m.breaker is not None and m.breaker.state == "closed"
    assert m.budget_tokens is not None and m.budget_tokens > 0
    assert m.cache_hits >= 1 and m.cache_misses >= 1 and m.cache_size >= 1
    assert (m.dropped_notifications, m.rejected_server_requests) == (0, 0)


def test_metrics_count_dropped_notifications(make_client: MakeClient) -> None:
    release = threading.Event()
    seen: list[object] = []

    def on_log(message: LogMessage) -> None:
        release.wait(10)
        seen.append(message.data)

    client, transport = make_client(server_with_tools(), on_log=on_log)
    try:
        for i in range(1100):
            transport.inject(Notification("notifications/message", {"level": "info", "data": i}))
        wait_for(lambda: client.metrics().dropped_notifications >= 99)
        dropped = client.metrics().dropped_notifications
        assert 99 <= dropped <= 100  # 1000 queued, one in the callback
    finally:
        release.set()
    wait_for(lambda: len(seen) == 1100 - dropped)
    assert client.metrics().dropped_notifications == dropped


def test_group_metrics_per_server() -> None:
    def client_for(server: FakeServer) -> MCPClient:
        return MCPClient(lambda: MockTransport(server), hooks=())

    with MCPGroup.from_clients(
        {"a": client_for(server_with_tools()), "b": client_for(server_with_tools())},
        owned=True,
    ) as group:
        group.client("a").call_tool("write", {"n": 1})
        metrics = group.metrics()
        assert list(metrics) == ["a", "b"]
        assert metrics["a"].calls >= 1 and metrics["b"].calls == 0
