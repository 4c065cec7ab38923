"""NetworkMCPClient on both wires: the REST gateway wire against a local gateway, and real
MCP (Streamable HTTP) against the official SDK's server in a subprocess."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients import CircuitOpenError, HTTPStatusError, UsageError
from syncclients.services import NetworkMCPClient, ServiceNotFoundError, StaticDiscovery
from syncclients.testing import LocalHTTPServer, Reply

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop" / "http"))
from mcp_http_helpers import ServerProcess, start_sdk_server

SSE_BODY = (
    'data: {"n": 1}\n\n'
    'data:{"n": 2}\n\n'  # no space after the colon: still an item (SSE spec)
    "data: not json\n\n"
    ": a comment\n"
    'data: {"n": 3}\n\n'
)


@pytest.fixture
def gateway() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    busy = {"left": 0}

    def store(r):  # type: ignore[no-untyped-def]
        return Reply(200, {"status": "stored", "args": r.json()})

    def flaky(r):  # type: ignore[no-untyped-def]
        if busy["left"] > 0:
            busy["left"] -= 1
            return Reply(503, {"message": "busy"})
        return Reply(200, {"ok": True})

    srv.routes[("POST", "/tool/store_input")] = store
    srv.routes[("POST", "/tool/bad")] = lambda r: Reply(400, {"detail": "user_id required"})
    srv.routes[("POST", "/tool/boom")] = lambda r: Reply(500, "plain failure")
    srv.routes[("POST", "/tool/flaky")] = flaky
    srv.routes[("POST", "/tool/limited")] = lambda r: (
        Reply(429, {"message": "slow down"}, {"Retry-After": "0"})
        if srv.count("POST", "/tool/limited") == 1
        else Reply(200, {"ok": 1})
    )
    srv.routes[("GET", "/resource/history/u1")] = lambda r: Reply(
        200, SSE_BODY.encode(), {"Content-Type": "text/event-stream"}
    )
    srv.routes[("GET", "/resource/missing")] = lambda r: Reply(404, {"message": "no such"})
    srv.busy = busy  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def rest_client(url: str, **kw: object) -> NetworkMCPClient:
    return NetworkMCPClient(StaticDiscovery({"memory": url}), default_wire="rest", **kw)  # type: ignore[arg-type]


def test_rest_call_tool_returns_the_json_unchanged_with_auth(gateway: LocalHTTPServer) -> None:
    with rest_client(gateway.url, token="tok-secret") as net:
        result = net.call_tool("memory", "store_input", {"user_id": "u1", "input_data": "hi"})
    assert result.data == {"status": "stored", "args": {"user_id": "u1", "input_data": "hi"}}
    assert (result.wire, result.endpoint, result.is_error) == ("rest", gateway.url, False)
    assert gateway.requests[0].headers["Authorization"] == "Bearer tok-secret"
    assert "tok-secret" not in repr(net)


def test_rest_errors_carry_the_contract_message_and_4xx_is_not_retried(
    gateway: LocalHTTPServer,
) -> None:
    with rest_client(gateway.url) as net:
        with pytest.raises(HTTPStatusError, match=r"Service error \(400\): user_id required"):
            net.call_tool("memory", "bad", {})
        assert gateway.count("POST", "/tool/bad") == 1
        with pytest.raises(HTTPStatusError, match=r"Service error \(500\): plain failure"):
            net.call_tool("memory", "boom")
        assert gateway.count("POST", "/tool/boom") == 1  # POST, not idempotent: not repeated


def test_503_retried_only_for_idempotent_tools_and_429_always(gateway: LocalHTTPServer) -> None:
    with rest_client(gateway.url) as net:
        gateway.busy["left"] = 2  # type: ignore[attr-defined]
        with pytest.raises(HTTPStatusError):
            net.call_tool("memory", "flaky")
        assert gateway.count("POST", "/tool/flaky") == 1
        gateway.busy["left"] = 2  # type: ignore[attr-defined]
        assert net.call_tool("memory", "flaky", idempotent=True).data == {"ok": True}
        assert gateway.count("POST", "/tool/flaky") == 4
        assert net.call_tool("memory", "limited").data == {"ok": 1}
        assert gateway.count("POST", "/tool/limited") == 2


def test_failover_to_the_next_endpoint(gateway: LocalHTTPServer) -> None:
    d = StaticDiscovery({"memory": [dead_url(), gateway.url]})
    with NetworkMCPClient(d, default_wire="rest") as net:
        first = net.call_tool("memory", "store_input", {"user_id": "u"})
        assert first.endpoint == gateway.url
        started = time.monotonic()
        net.call_tool("memory", "store_input", {"user_id": "u"})  # the dead one is last now
        assert time.monotonic() - started < 0.5


def test_breaker_per_service_counts_calls_and_fails_fast(gateway: LocalHTTPServer) -> None:
    d = StaticDiscovery({"memory": gateway.url, "other": gateway.url})
    with NetworkMCPClient(d, default_wire="rest") as net:
        for _ in range(5):
            with pytest.raises(HTTPStatusError):
                net.call_tool("memory", "boom")
        assert net.breaker_state("memory") == "open"
        sent = gateway.count()
        with pytest.raises(CircuitOpenError):
            net.call_tool("memory", "store_input")
        assert gateway.count() == sent
        assert net.call_tool("other", "store_input").data["status"] == "stored"
        assert net.breaker_state("other") == "closed"


def test_rest_resource_stream_items_in_order(
    gateway: LocalHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    with rest_client(gateway.url) as net:
        assert list(net.get_resource("memory", "history/u1")) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert "not JSON" in caplog.text
        with pytest.raises(HTTPStatusError, match=r"Service error \(404\): no such"):
            list(net.get_resource("memory", "missing"))
    assert gateway.requests[0].path == "/resource/history/u1"
    assert gateway.requests[0].headers["Accept"] == "text/event-stream"


def test_a_stream_is_closed_promptly_when_the_consumer_stops() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    closed = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            b'data: {"n": 1}\n\n'
        )
        conn.settimeout(10)
        try:
            while conn.recv(1024):  # the client sends nothing more; b"" when it closes
                pass
            closed.set()
        except OSError:
            closed.set()
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with rest_client(url) as net:
            items = net.get_resource("memory", "live")
            assert next(items) == {"n": 1}
            items.close()  # type: ignore[attr-defined]
            assert closed.wait(2.0)
            assert net.breaker_state("memory") == "closed"
    finally:
        thread.join(5)
        listener.close()


def test_batch_returns_ordered_outcomes_never_fake_results(gateway: LocalHTTPServer) -> None:
    with rest_client(gateway.url) as net:
        outcomes = net.call_tool_batch(
            [
                ("memory", "store_input", {"user_id": "a"}),
                ("memory", "bad", {}),
                ("nowhere", "x", None),
                ("memory", "store_input", {"user_id": "b"}),
            ],
            timeout_s=5,
        )
    assert [o.status for o in outcomes] == ["ok", "error", "error", "ok"]
    assert isinstance(outcomes[1].error, HTTPStatusError)
    assert isinstance(outcomes[2].error, ServiceNotFoundError)
    assert outcomes[3].result is not None and outcomes[3].result.data["args"] == {"user_id": "b"}


def test_closed_client_refuses_calls(gateway: LocalHTTPServer) -> None:
    net = rest_client(gateway.url)
    net.close()
    with pytest.raises(UsageError):
        net.call_tool("memory", "store_input")


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_sdk_server("streamable", tmp_path_factory.mktemp("sdk"))
    try:
        yield server
    finally:
        server.stop()


def test_real_mcp_wire_and_both_wires_in_one_client(
    sdk_server: ServerProcess, gateway: LocalHTTPServer
) -> None:
    d = StaticDiscovery({"calc": sdk_server.base, "memory": gateway.url})
    with NetworkMCPClient(d, wires={"memory": "rest"}) as net:
        added = net.call_tool("calc", "add", {"a": 2, "b": 3}, idempotent=True)
        assert added.wire == "mcp" and not added.is_error
        assert added.data == {"result": 5} or json.loads(added.content[0].text) == 5
        failed = net.call_tool("calc", "fail", {"message": "nope"})
        assert failed.is_error
        contents = list(net.get_resource("calc", "res://hello"))
        assert contents and "hello" in contents[0].text.lower()
        outcomes = net.call_tool_batch(
            [("calc", "echo", {"text": "x"}), ("memory", "store_input", {"user_id": "u"})]
        )
        assert [o.status for o in outcomes] == ["ok", "ok"]
        assert outcomes[1].result is not None and outcomes[1].result.wire == "rest"


def test_metrics_per_service_with_retries_and_breaker_rejections(
    gateway: LocalHTTPServer,
) -> None:
    d = StaticDiscovery({"memory": gateway.url, "other": gateway.url})
    with NetworkMCPClient(d, default_wire="rest") as net:
        assert net.metrics() == {}
        gateway.busy["left"] = 2  # type: ignore[attr-defined]
        net.call_tool("memory", "flaky", idempotent=True)  # 3 attempts
        for _ in range(5):
            with pytest.raises(HTTPStatusError):
                net.call_tool("other", "boom")
        with pytest.raises(CircuitOpenError):
            net.call_tool("other", "store_input")
        m = net.metrics()
    memory, other = m["memory"], m["other"]
    assert (memory.calls, memory.successes, memory.attempts, memory.retries) == (1, 1, 3, 2)
    assert (other.calls, other.errors, other.attempts, other.rejected) == (6, 6, 5, 1)
    assert other.breaker is not None and other.breaker.state == "open"
    assert memory.latency_max_s is not None and memory.latency_max_s > 0
