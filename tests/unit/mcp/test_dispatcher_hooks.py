"""Dispatcher hooks used by Streamable HTTP and subscriptions/listen: request_failed,
cancel, on_sent, and completions ordered after a request's progress notifications."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from syncclients.errors import ConnectionLostError, ProtocolError
from syncclients.mcp import MockTransport
from syncclients.mcp.dispatcher import Dispatcher
from syncclients.mcp.messages import Notification, Request, Response
from syncclients.mcp.transport import SendContext


def make() -> tuple[Dispatcher, MockTransport]:
    transport = MockTransport(lambda message: None)  # a peer that never answers by itself
    dispatcher = Dispatcher(
        transport, on_request=lambda method, params: {}, on_notification=lambda n: None
    )
    dispatcher.start()
    return dispatcher, transport


def run_request(dispatcher: Dispatcher, **kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}
    sent = threading.Event()

    def on_sent(rid: Any) -> None:
        box["id"] = rid
        sent.set()

    def target() -> None:
        try:
            box["result"] = dispatcher.request(
                "tools/call", {"name": "t"}, timeout_s=10, context=SendContext(),
                on_sent=on_sent, **kwargs,
            )  # fmt: skip
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    assert sent.wait(5)
    return thread, box


def test_request_failed_fails_only_that_request() -> None:
    dispatcher, transport = make()
    try:
        first, box1 = run_request(dispatcher)
        second, box2 = run_request(dispatcher)
        dispatcher.request_failed(box1["id"], ProtocolError("stream broke"))
        first.join(5)
        assert isinstance(box1["error"], ProtocolError)
        assert dispatcher.lost is None  # the connection stays up
        transport.inject(Response(box2["id"], {"ok": True}))
        second.join(5)
        assert box2["result"] == {"ok": True}
    finally:
        dispatcher.close()


def test_cancel_tells_the_server_and_releases_the_waiter() -> None:
    dispatcher, transport = make()
    try:
        thread, box = run_request(dispatcher)
        dispatcher.cancel(box["id"], "no longer needed", SendContext())
        thread.join(5)
        assert isinstance(box["error"], ConnectionLostError)
        cancels = [
            m for m in transport.sent
            if isinstance(m, Notification) and m.method == "notifications/cancelled"
        ]  # fmt: skip
        assert cancels
        assert cancels[0].params == {"requestId": box["id"], "reason": "no longer needed"}
        dispatcher.cancel(box["id"], "again", SendContext())  # unknown now: nothing happens
    finally:
        dispatcher.close()


def test_answer_waits_for_the_progress_that_came_before_it() -> None:
    dispatcher, transport = make()
    seen: list[float] = []
    release = threading.Event()

    def on_progress(params: dict[str, Any]) -> None:
        assert release.wait(5)  # a slow progress callback
        seen.append(params["progress"])

    try:
        thread, box = run_request(dispatcher, progress_token="p1", on_progress=on_progress)
        for i in range(3):
            transport.inject(
                Notification("notifications/progress", {"progressToken": "p1", "progress": i})
            )
        transport.inject(Response(box["id"], {"done": True}))
        release.set()
        thread.join(5)
        assert box["result"] == {"done": True}
        assert seen == [0, 1, 2]  # none dropped, even with the callback slower than the answer
    finally:
        dispatcher.close()


def test_server_requests_still_answered_while_a_request_waits() -> None:
    dispatcher, transport = make()
    try:
        thread, box = run_request(dispatcher)
        transport.inject(Request("s1", "ping", None))
        for _ in range(100):
            if any(isinstance(m, Response) and m.id == "s1" for m in transport.sent):
                break
            threading.Event().wait(0.02)
        assert any(isinstance(m, Response) and m.id == "s1" for m in transport.sent)
        transport.inject(Response(box["id"], {}))
        thread.join(5)
    finally:
        dispatcher.close()


@pytest.mark.parametrize("reason", [None, ConnectionLostError("bye")])
def test_close_releases_a_long_lived_request(reason: ConnectionLostError | None) -> None:
    dispatcher, _ = make()
    thread, box = run_request(dispatcher)
    dispatcher.close(reason)
    thread.join(5)
    assert isinstance(box["error"], ConnectionLostError)
