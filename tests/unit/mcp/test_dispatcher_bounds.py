"""Dispatcher bounds over MockTransport: what must never be lost when the notification
thread is stuck in a callback."""

from __future__ import annotations

import threading
from collections.abc import Callable

from test_cache_and_batch import server_with_tools, wait_for

from syncclients.mcp import MCPClient, MockTransport
from syncclients.mcp.messages import Notification, Response

MakeClient = Callable[..., tuple[MCPClient, MockTransport]]


def test_close_completes_an_answer_queued_behind_a_stuck_progress_callback(
    make_client: MakeClient,
) -> None:
    """An answer ordered after its progress notifications is never lost on close: the
    caller gets it instead of waiting out its timeout."""
    server = server_with_tools()
    server.handlers["tools/call"] = lambda r: None  # answered below, after progress
    client, transport = make_client(server)
    stuck = threading.Event()
    release = threading.Event()
    results: list[object] = []

    def on_progress(progress: object) -> None:
        stuck.set()
        release.wait(10)

    def call() -> None:
        try:
            results.append(client.call_tool("write", {"n": 1}, on_progress=on_progress).text)
        except Exception as exc:  # the test asserts on what arrived
            results.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        wait_for(lambda: "tools/call" in server.methods())
        request = next(r for r in server.requests if r.method == "tools/call")
        token = request.params["_meta"]["progressToken"]
        transport.inject(
            Notification("notifications/progress", {"progressToken": token, "progress": 1})
        )
        assert stuck.wait(5)
        transport.inject(Response(request.id, {"content": [{"type": "text", "text": "done"}]}))
        session = client._session
        assert session is not None
        wait_for(lambda: request.id not in session.dispatcher._pending)  # answer queued
        client.close()
        caller.join(5)
        assert not caller.is_alive()
        assert results == ["done"]
    finally:
        release.set()
        caller.join(5)
