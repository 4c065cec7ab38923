"""Dispatcher and MCPClient logic over MockTransport: concurrency, timeouts, loss, retry."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from mcp_fakes import FakeServer

from syncclients.config import BreakerPolicy, RetryPolicy
from syncclients.errors import (
    CircuitOpenError,
    ConnectionLostError,
    MCPError,
    ProtocolError,
    ReadTimeout,
    ServerExitedError,
    UsageError,
)
from syncclients.mcp import (
    EmbeddedResource,
    ImageContent,
    LogMessage,
    Progress,
    ResourceLink,
    ServerNotification,
    UnknownContent,
)
from syncclients.mcp.messages import ErrorObject, Notification, Request, Response


def _add(r: Request) -> dict:
    args = r.params["arguments"]
    return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}


def test_many_threads_share_one_client(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = _add
    client, _ = make_client(server)

    def work(n: int) -> bool:
        return all(client.call_tool("add", {"a": n, "b": i}).text == str(n + i) for i in range(25))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(16)))


def test_timeout_sends_cancel_and_late_answer_is_ignored(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: None  # never answers
    client, transport = make_client(server)
    with pytest.raises(ReadTimeout) as info:
        client.call_tool("slow", timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert "(request cancelled on the server)" in str(info.value)
    call = server.requests[-1]
    cancel = transport.sent[-1]
    assert isinstance(cancel, Notification) and cancel.method == "notifications/cancelled"
    assert cancel.params == {"requestId": call.id, "reason": "timeout"}
    transport.inject(Response(call.id, {"content": []}))  # too late: dropped
    client.ping()


def test_timeout_of_an_uncancellable_request_does_not_claim_a_cancellation(make_client) -> None:
    """server/discover (a modern-era ping) is not cancelled on a timeout: the message must
    not say it was."""
    server = FakeServer(modern=True)
    client, transport = make_client(server, retry=RetryPolicy.never())
    server.handlers["server/discover"] = lambda r: None  # never answers now
    sent_before = len(transport.sent)
    with pytest.raises(ReadTimeout) as info:
        client.ping(timeout=0.05)
    assert "(not cancelled)" in str(info.value)
    assert "cancelled on the server" not in str(info.value)
    assert not any(
        isinstance(m, Notification) and m.method == "notifications/cancelled"
        for m in transport.sent[sent_before:]
    )


def test_connection_loss_fails_every_waiting_call(make_client) -> None:
    server = FakeServer()
    arrived = threading.Semaphore(0)

    def hang(r: Request) -> None:
        arrived.release()

    server.handlers["tools/call"] = hang
    client, transport = make_client(server, breaker=None)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.call_tool("t", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in threads:
        assert arrived.acquire(timeout=5)
    transport.lose(ServerExitedError("gone", exit_code=3, stderr_tail="boom"))
    for t in threads:
        t.join(timeout=5)
    assert len(errors) == 4 and all(isinstance(e, ServerExitedError) for e in errors)
    assert len({id(e) for e in errors}) == 4  # each caller gets its own copy
    assert errors[0].exit_code == 3 and errors[0].stderr_tail == "boom"


def test_restart_and_retry_of_safe_calls(make_client) -> None:
    server = FakeServer()
    client, transport = make_client(server, restart_on_exit=True)
    transport.lose(ServerExitedError("gone", exit_code=1))
    assert len(client.list_tools()) == 1  # reconnected on the next call
    assert server.methods().count("initialize") == 2


def test_unsafe_tool_call_is_not_retried_but_idempotent_is(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: None
    client, _ = make_client(server, retry=RetryPolicy(max_attempts=3, initial_delay_s=0))
    with pytest.raises(ReadTimeout):
        client.call_tool("write", timeout=0.02)
    assert server.methods().count("tools/call") == 1
    with pytest.raises(ReadTimeout):
        client.call_tool("write", timeout=0.02, idempotent=True)
    assert server.methods().count("tools/call") == 4


def test_annotated_read_only_tool_is_retried(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/list"] = lambda r: {
        "tools": [{"name": "get", "inputSchema": {"type": "object"},
                   "annotations": {"readOnlyHint": True}}]
    }  # fmt: skip
    attempts = []

    def flaky(r: Request):
        attempts.append(r.id)
        return None if len(attempts) < 2 else {"content": [{"type": "text", "text": "ok"}]}

    server.handlers["tools/call"] = flaky
    client, _ = make_client(server, retry=RetryPolicy(max_attempts=3, initial_delay_s=0))
    assert client.list_tools()[0].annotations.read_only_hint
    assert client.call_tool("get", timeout=0.05).text == "ok"
    assert len(attempts) == 2


def test_server_errors_do_not_open_the_breaker(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: ErrorObject(-32602, "Unknown tool: x")
    client, _ = make_client(server, breaker=BreakerPolicy(failure_threshold=2))
    for _ in range(5):
        with pytest.raises(MCPError) as info:
            client.call_tool("x")
        assert info.value.code == -32602 and info.value.method == "tools/call"
    assert client.resilience.breaker is not None
    assert client.resilience.breaker.state == "closed"


def test_transport_failures_open_the_breaker(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: None
    client, _ = make_client(server, breaker=BreakerPolicy(failure_threshold=2))
    for _ in range(2):
        with pytest.raises(ReadTimeout):
            client.call_tool("x", timeout=0.01)
    with pytest.raises(CircuitOpenError):
        client.call_tool("x", timeout=0.01)


def test_malformed_result_is_protocol_error(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: {"content": "nope"}
    client, _ = make_client(server)
    with pytest.raises(ProtocolError):
        client.call_tool("x")


def test_typed_content_blocks(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: {
        "content": [
            {"type": "text", "text": "a"},
            {"type": "image", "data": "aGk=", "mimeType": "image/png"},
            {"type": "resource_link", "uri": "file:///x", "name": "x"},
            {"type": "resource", "resource": {"uri": "r://1", "blob": "aGk="}},
            {"type": "future_kind", "x": 1},
            {"type": "text", "text": "b"},
        ],
        "structuredContent": {"k": 1},
        "isError": False,
    }
    client, _ = make_client(server)
    result = client.call_tool("x")
    kinds = [type(b) for b in result.content]
    assert kinds[1:5] == [ImageContent, ResourceLink, EmbeddedResource, UnknownContent]
    assert result.content[1].bytes == b"hi"  # type: ignore[union-attr]
    assert result.text == "a\nb"
    assert result.structured_content == {"k": 1}


def test_pagination_follows_cursors_and_keeps_smallest_ttl(make_client) -> None:
    server = FakeServer()
    pages = {
        None: {"tools": [{"name": "a", "inputSchema": {}}], "nextCursor": "c1", "ttlMs": 500},
        "c1": {"tools": [{"name": "b", "inputSchema": {}}], "nextCursor": "c2", "ttlMs": -5},
        "c2": {"tools": [{"name": "c", "inputSchema": {}}], "cacheScope": "private"},
    }
    server.handlers["tools/list"] = lambda r: pages[(r.params or {}).get("cursor")]
    client, _ = make_client(server)
    tools = client.list_tools()
    assert [t.name for t in tools] == ["a", "b", "c"]
    assert tools.ttl_ms == 0 and tools.cache_scope == "private"


def test_repeated_cursor_is_a_protocol_error(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/list"] = lambda r: {"tools": [], "nextCursor": "same"}
    client, _ = make_client(server)
    with pytest.raises(ProtocolError):
        client.list_tools()


def test_server_requests_run_on_worker_threads(make_client) -> None:
    server = FakeServer()
    threads: list[str] = []

    def roots():
        threads.append(threading.current_thread().name)
        return ["file:///w"]

    client, transport = make_client(server, roots=roots)
    transport.inject(Request("s1", "roots/list", {}))
    transport.inject(Request("s2", "sampling/createMessage", {"messages": [], "maxTokens": 1}))
    transport.inject(Request("s3", "ping", None))
    client.ping()  # the mock peer handles messages in order
    deadline = threading.Event()
    for _ in range(250):
        if len(server.responses) == 3:
            break
        deadline.wait(0.02)
    by_id = {m.id: m for m in server.responses}
    assert by_id["s1"].result == {"roots": [{"uri": "file:///w"}]}
    assert by_id["s2"].error.code == -32601  # no sampling callback: not declared
    assert by_id["s3"].result == {}
    assert threads and threads[0].startswith("mcp-callback")


def test_notifications_reach_callbacks_in_order(make_client) -> None:
    server = FakeServer()
    logs: list[LogMessage] = []
    others: list[ServerNotification] = []
    done = threading.Event()

    def other(n: ServerNotification) -> None:
        others.append(n)
        if n.method == "notifications/resources/updated":
            done.set()

    client, transport = make_client(server, on_log=logs.append, on_notification=other)
    client.list_tools()
    assert client._tools
    transport.inject(Notification("notifications/message", {"level": "warning", "data": "x"}))
    transport.inject(Notification("notifications/tools/list_changed"))
    transport.inject(Notification("notifications/resources/updated", {"uri": "r://1"}))
    assert done.wait(5)
    assert logs[0].level == "warning" and logs[0].data == "x"
    assert [n.method for n in others] == [
        "notifications/tools/list_changed",
        "notifications/resources/updated",
    ]
    assert client._tools == {}  # the annotations cache was invalidated


def test_progress_is_routed_by_token(make_client) -> None:
    server = FakeServer()
    client, transport = make_client(server)
    progress: list[Progress] = []

    def call(r: Request) -> dict:
        token = r.params["_meta"]["progressToken"]
        transport.inject(
            Notification(
                "notifications/progress", {"progressToken": token, "progress": 1, "total": 2}
            )
        )
        transport.inject(Response(r.id, {"content": []}))
        return None  # type: ignore[return-value]

    server.handlers["tools/call"] = call
    client.call_tool("x", on_progress=progress.append)
    # Progress runs on the notification thread; a later call orders after it.
    client.ping()
    for _ in range(250):
        if progress:
            break
        threading.Event().wait(0.02)
    assert progress[0].progress == 1 and progress[0].total == 2


def test_set_logging_level_legacy_sends_set_level(make_client) -> None:
    server = FakeServer()
    server.handlers["logging/setLevel"] = lambda r: {}
    client, _ = make_client(server)
    client.set_logging_level("debug")
    assert server.requests[-1].params == {"level": "debug"}
    with pytest.raises(UsageError):
        client.set_logging_level("loud")


def test_closed_client_refuses_calls_and_fails_waiters(make_client) -> None:
    server = FakeServer()
    server.handlers["tools/call"] = lambda r: None
    client, _ = make_client(server, breaker=None)
    errors: list[BaseException] = []
    started = threading.Event()

    def call() -> None:
        started.set()
        try:
            client.call_tool("x", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    assert started.wait(5)
    for _ in range(250):
        if server.methods().count("tools/call"):
            break
        threading.Event().wait(0.02)
    client.close()
    client.close()
    t.join(5)
    assert isinstance(errors[0], ConnectionLostError)
    with pytest.raises(UsageError):
        client.ping()


def test_argument_checks() -> None:
    from syncclients.mcp import MCPClient

    with pytest.raises(UsageError):
        MCPClient.stdio([])
    with pytest.raises(UsageError):
        MCPClient.stdio("python server.py")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        MCPClient.stdio(["x"], env={"A": 1})  # type: ignore[dict-item]
