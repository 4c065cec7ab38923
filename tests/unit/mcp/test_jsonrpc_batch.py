"""JSON-RPC batches for 2025-03-26 servers: concurrent calls of call_tool_batch coalesced into
arrays, each call still with its own outcome (a scripted server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from syncclients import HTTPStatusError, MCPClient, RetryPolicy
from syncclients.testing import LocalHTTPServer, Reply, RequestInfo


class Server:
    def __init__(self, version: str) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.posts: list[int] = []  # requests per POST that carried tools/call
        self.fail_arrays = False
        self.sse = False  # answer tools/call POSTs as an SSE stream of the responses
        self.http = LocalHTTPServer()
        self.http.routes[("POST", "/mcp")] = self.handle
        self.http.routes[("GET", "/mcp")] = lambda _r: Reply(405)
        self.http.routes[("DELETE", "/mcp")] = lambda _r: Reply(200)

    def answer(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        if "id" not in msg:
            return None
        if msg["method"] == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": self.version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "batch", "version": "1"},
            }
        elif msg["method"] == "tools/list":
            result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
        elif msg["method"] == "tools/call":
            text = str(msg["params"]["arguments"]["i"])
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        return {"jsonrpc": "2.0", "id": msg["id"], "result": result}

    def handle(self, req: RequestInfo) -> Reply:
        body = req.json()
        batch = body if isinstance(body, list) else [body]
        calls = sum(1 for m in batch if m.get("method") == "tools/call")
        if calls:
            with self.lock:
                self.posts.append(len(batch))
        if isinstance(body, list) and self.fail_arrays:
            return Reply(500, b"no batches today")
        answers = [a for a in (self.answer(m) for m in batch) if a is not None]
        if not answers:
            return Reply(202)
        if self.sse and calls:
            events = b"".join(
                b"event: message\ndata: " + json.dumps(a).encode() + b"\n\n" for a in answers
            )
            return Reply(200, events, {"Content-Type": "text/event-stream"}, delay_s=0.02)
        headers = {"Content-Type": "application/json", "Mcp-Session-Id": "s1"}
        payload = answers if isinstance(body, list) else answers[0]
        return Reply(200, json.dumps(payload), headers, delay_s=0.02 if calls else 0.0)


@pytest.fixture(params=["2025-03-26"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = Server(request.param)
    srv.http.start()
    try:
        yield srv
    finally:
        srv.http.stop()


def client(server: Server, size: int) -> MCPClient:
    return MCPClient.http(
        server.http.url + "/mcp",
        era="legacy",
        jsonrpc_batch_size=size,
        retry=RetryPolicy(max_attempts=1),
        hooks=(),
    )


def test_concurrent_calls_go_as_batches_with_own_outcomes(server: Server) -> None:
    with client(server, 8) as c:
        outcomes = c.call_tool_batch([("echo", {"i": i}) for i in range(40)], max_workers=8)
    assert [o.result.text for o in outcomes] == [str(i) for i in range(40)]
    assert sum(server.posts) == 40
    assert max(server.posts) > 1 and max(server.posts) <= 8  # coalesced, within the limit
    assert len(server.posts) < 40


def test_batches_answered_as_sse_streams(server: Server) -> None:
    server.sse = True
    with client(server, 8) as c:
        outcomes = c.call_tool_batch([("echo", {"i": i}) for i in range(40)], max_workers=8)
    assert [o.result.text for o in outcomes] == [str(i) for i in range(40)]
    assert max(server.posts) > 1 and sum(server.posts) == 40


def test_a_failed_batch_post_fails_only_its_calls(server: Server) -> None:
    server.fail_arrays = True
    with client(server, 8) as c:
        outcomes = c.call_tool_batch([("echo", {"i": i}) for i in range(24)], max_workers=8)
    failed = [o for o in outcomes if not o.ok]
    assert failed and all(isinstance(o.error, HTTPStatusError) for o in failed)
    assert all(o.result.text == str(o.index) for o in outcomes if o.ok)
    assert len(failed) == sum(n for n in server.posts if n > 1)


@pytest.mark.parametrize("server", ["2025-06-18"], indirect=True)
def test_never_batches_after_2025_03_26(server: Server) -> None:
    with client(server, 8) as c:
        outcomes = c.call_tool_batch([("echo", {"i": i}) for i in range(16)], max_workers=8)
    assert all(o.ok for o in outcomes)
    assert server.posts == [1] * 16


def test_off_by_default(server: Server) -> None:
    with client(server, 0) as c:
        c.call_tool_batch([("echo", {"i": i}) for i in range(16)], max_workers=8)
    assert server.posts == [1] * 16


def test_batcher_under_contention_never_strands_a_caller() -> None:
    """50 threads, POSTs that are slow or fail at random: every caller returns (sent or with
    its POST's error), every request is sent exactly once, batches stay within the limit."""
    import random

    from syncclients.mcp.jsonrpc_batch import JsonRpcBatcher
    from syncclients.mcp.messages import Request
    from syncclients.mcp.transport import SendContext

    sent: list[int] = []
    sizes: list[int] = []
    lock = threading.Lock()
    rng = random.Random(7)

    def post(ids: list[int]) -> None:
        with lock:
            sent.extend(ids)
            sizes.append(len(ids))
            fail = rng.random() < 0.2
        threading.Event().wait(rng.random() / 500)
        if fail:
            raise OSError("boom")

    batcher = JsonRpcBatcher(
        lambda r, _c: post([int(r.id)]),
        lambda rs, _c: post([int(r.id) for r in rs]),
        max_size=5,
    )
    results: dict[int, str] = {}

    def caller(i: int) -> None:
        try:
            batcher.send(Request(i, "tools/call", None), SendContext(timeout_s=1.0))
            results[i] = "sent"
        except OSError:
            results[i] = "failed"

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert sorted(sent) == list(range(50)) and len(results) == 50
    assert max(sizes) <= 5 and batcher.requests == 50
