"""A hostile stdio server floods notifications and server requests while the user's
callbacks are slow: memory stays bounded (measured with tracemalloc), drops are counted and
logged once, change notifications and answers to our requests still get through, every
server request gets an answer or an error."""

from __future__ import annotations

import logging
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients import MCPClient
from syncclients.mcp.dispatcher import CLIENT_BUSY, DROP_LOG_INTERVAL_S
from syncclients.mcp.types import LogMessage, ServerNotification

from .test_batch_interrupt import read_log, wait_for_log

SERVER = Path(__file__).parent / "servers" / "recording_stdio.py"
QUEUE_LIMIT = 1000  # the dispatcher's default max_queued_notifications
FLOOD_COUNT = 30_000
FLOOD_SIZE = 2_000  # bytes of data per notification: about 60 MB on the wire


class SlowCallbacks:
    """Callbacks that block until released, recording what they were given."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.logs: list[int] = []
        self.notifications: list[str] = []
        self.roots_calls = 0
        self.lock = threading.Lock()

    def on_log(self, message: LogMessage) -> None:
        self.release.wait(30)
        with self.lock:
            self.logs.append(message.data["i"])

    def on_notification(self, notification: ServerNotification) -> None:
        with self.lock:
            self.notifications.append(notification.method)

    def roots(self) -> list[str]:
        self.release.wait(30)
        with self.lock:
            self.roots_calls += 1
        return ["file:///tmp"]


@pytest.fixture
def slow() -> Iterator[SlowCallbacks]:
    callbacks = SlowCallbacks()
    yield callbacks
    callbacks.release.set()  # never leave a callback thread blocked


def make(log: Path, slow: SlowCallbacks) -> MCPClient:
    return MCPClient.stdio(
        [sys.executable, str(SERVER), str(log)],
        era="legacy",
        shutdown_grace_s=1.0,
        on_log=slow.on_log,
        on_notification=slow.on_notification,
        roots=slow.roots,
    )


def wait_until(predicate, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # polling callback counters, bounded by timeout_s
    return True


def test_notification_flood_with_a_slow_callback_stays_bounded(
    tmp_path: Path, slow: SlowCallbacks, caplog: pytest.LogCaptureFixture
) -> None:
    client = make(tmp_path / "server.log", slow)
    try:
        client.connect()
        tracemalloc.start()
        try:
            flood_started = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="syncclients.mcp"):
                result = client.call_tool(
                    "flood",
                    {
                        "count": FLOOD_COUNT,
                        "size": FLOOD_SIZE,
                        "tail": ["notifications/tools/list_changed"],
                    },
                    timeout=60,
                )
            flood_s = time.monotonic() - flood_started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.text == "flooded"  # our answer came through the flood
        wire_mb = FLOOD_COUNT * FLOOD_SIZE / 1e6
        peak_mb = peak / 1e6
        print(f"\nflood: {wire_mb:.0f} MB on the wire, traced peak {peak_mb:.1f} MB")
        # unbounded, the queue held every message (over 60 MB); bounded, about 1000 of 2 kB
        assert peak_mb < 25, f"peak {peak_mb:.1f} MB for {wire_mb:.0f} MB on the wire"
        # an answer to a new request is prompt while the callback is still stuck
        started = time.monotonic()
        assert client.call_tool("work", {"id": 1, "ms": 0}, timeout=10).text == "work 1"
        assert time.monotonic() - started < 5
        stats = client._dispatch_stats
        # one notification is in the stuck callback, QUEUE_LIMIT wait, the rest are dropped
        dropped = stats.notifications_dropped
        assert FLOOD_COUNT - QUEUE_LIMIT - 1 <= dropped <= FLOOD_COUNT - QUEUE_LIMIT
        assert stats.notification_queue_peak == QUEUE_LIMIT + 1  # + list_changed, kept
        drops = [r for r in caplog.records if "notification queue full" in r.getMessage()]
        assert 1 <= len(drops) <= 1 + flood_s / DROP_LOG_INTERVAL_S  # rate-limited
        slow.release.set()
        delivered = FLOOD_COUNT - stats.notifications_dropped
        assert wait_until(lambda: len(slow.logs) == delivered)
        assert slow.logs == list(range(delivered))  # in order, the newest ones dropped
        # the change notification was kept though the queue was full
        assert wait_until(lambda: "notifications/tools/list_changed" in slow.notifications)
    finally:
        slow.release.set()
        client.close()


def test_server_request_flood_gets_answers_or_busy_errors(
    tmp_path: Path, slow: SlowCallbacks
) -> None:
    log = tmp_path / "server.log"
    client = make(log, slow)
    count = 300
    try:
        client.connect()
        started = time.monotonic()
        assert client.call_tool("ask", {"count": count}, timeout=10).text == "asked"
        limit = 64  # the dispatcher's default max_pending_server_requests
        entries = wait_for_log(log, lambda es: sum("answer" in e for e in es) >= count - limit)
        busy = [e for e in entries if "answer" in e and e["code"] == CLIENT_BUSY]
        assert len(busy) == count - limit  # answered at once, while the callbacks block
        assert time.monotonic() - started < 10
        assert client._dispatch_stats.server_requests_rejected == count - limit
        slow.release.set()
        entries = wait_for_log(log, lambda es: sum("answer" in e for e in es) >= count)
        answers = [e for e in entries if "answer" in e]
        assert len(answers) == count  # nothing vanished
        assert sum(1 for e in answers if e["ok"]) == limit
        assert {e["answer"] for e in answers} == {f"s{i}" for i in range(count)}
        assert slow.roots_calls == limit
    finally:
        slow.release.set()
        client.close()
    assert len(read_log(log)) >= count
