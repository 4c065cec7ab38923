"""HTTPClient against a real threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectError,
    ConnectionLostError,
    HTTPClient,
    HTTPStatusError,
    PoolTimeout,
    ReadTimeout,
    RetryPolicy,
)
from syncclients.resilience import AttemptRecord
from syncclients.testing import LocalHTTPServer, Reply


def test_1000_calls_from_16_threads_stay_within_pool_size(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/item")] = lambda req: Reply(200, {"ok": True})
    with HTTPClient(server.url, pool_maxsize=4, hooks=[]) as client:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: client.get("item", params={"i": i}), range(1000)))
    assert results == [{"ok": True}] * 1000
    assert server.count("GET", "/item") == 1000
    assert server.connections_opened <= 4


def test_pool_wait_is_bounded(server: LocalHTTPServer) -> None:
    release = threading.Event()
    server.routes[("GET", "/slow")] = lambda req: (release.wait(10), Reply(200, "done"))[1]
    client = HTTPClient(server.url, pool_maxsize=1, pool_timeout_s=0.2, hooks=[])
    holder = threading.Thread(target=client.get, args=("slow",))
    holder.start()
    try:
        deadline = time.monotonic() + 5
        while server.count("GET", "/slow") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(PoolTimeout) as info:
            client.get("slow")
        assert time.monotonic() - started < 3  # bounded, not forever
        assert isinstance(info.value, TimeoutError)
    finally:
        release.set()
        holder.join(10)
        client.close()


def test_read_timeout_against_a_server_that_never_answers(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/hang")] = lambda req: Reply(200, "late", delay_s=30)
    with HTTPClient(server.url, timeout=(1.0, 0.3), retry=RetryPolicy.never(), hooks=[]) as client:
        started = time.monotonic()
        with pytest.raises(ReadTimeout) as info:
            client.get("hang")
        assert time.monotonic() - started < 5
    assert isinstance(info.value, TimeoutError)
    assert info.value.timeout_s == 0.3


def test_retry_after_is_honoured(server: LocalHTTPServer) -> None:
    answers = iter([Reply(503, "busy", headers={"Retry-After": "1"}), Reply(200, {"ok": 1})])
    server.routes[("GET", "/busy")] = lambda req: next(answers)
    records: list[AttemptRecord] = []
    with HTTPClient(server.url, hooks=[records.append]) as client:
        started = time.monotonic()
        assert client.get("busy") == {"ok": 1}
        elapsed = time.monotonic() - started
    assert records[0].delay_s == 1.0 and records[0].will_retry
    assert elapsed >= 1.0


def test_post_not_retried_on_503_or_reset(server: LocalHTTPServer) -> None:
    server.routes[("POST", "/orders")] = lambda req: Reply(503, "no")
    server.routes[("POST", "/reset")] = lambda req: Reply(close=True)
    with HTTPClient(
        server.url, retry=RetryPolicy(max_attempts=4, initial_delay_s=0.01), hooks=[]
    ) as client:
        with pytest.raises(HTTPStatusError):
            client.post("orders", json={"n": 1})
        with pytest.raises(ConnectionLostError):
            client.post("reset", json={"n": 1})
    assert server.count("POST", "/orders") == 1
    assert server.count("POST", "/reset") == 1


def test_get_retried_after_reset(server: LocalHTTPServer) -> None:
    answers = iter([Reply(close=True), Reply(200, {"ok": 2})])
    server.routes[("GET", "/flaky")] = lambda req: next(answers)
    with HTTPClient(
        server.url, retry=RetryPolicy(max_attempts=3, initial_delay_s=0.01), hooks=[]
    ) as client:
        assert client.get("flaky") == {"ok": 2}


def test_connect_refused_is_connect_error() -> None:
    srv = LocalHTTPServer().start()
    url = srv.url
    srv.stop()  # nothing listens there now
    with HTTPClient(
        url, retry=RetryPolicy(max_attempts=2, initial_delay_s=0.01), breaker=None, hooks=[]
    ) as client:
        with pytest.raises(ConnectError) as info:
            client.get("x")
    assert isinstance(info.value, ConnectionError)


def test_half_open_under_32_threads_admits_only_permitted_probes(server: LocalHTTPServer) -> None:
    state = {"healthy": False}
    gate = threading.Event()

    def handler(req) -> Reply:
        if not state["healthy"]:
            return Reply(500, "down")
        gate.wait(10)  # keep probes in flight while the other threads arrive
        return Reply(200, {"ok": True})

    server.routes[("GET", "/x")] = handler
    policy = BreakerPolicy(failure_threshold=2, recovery_timeout_s=0.2, half_open_max_calls=2)
    with HTTPClient(
        server.url, breaker=policy, retry=RetryPolicy.never(), pool_maxsize=32, hooks=[]
    ) as client:
        for _ in range(2):
            with pytest.raises(HTTPStatusError):
                client.get("x")
        assert client.breaker is not None and client.breaker.state == "open"
        state["healthy"] = True
        time.sleep(0.25)  # the recovery timeout under test
        barrier = threading.Barrier(32)
        outcomes: list[str] = []
        lock = threading.Lock()

        def call() -> None:
            barrier.wait(10)
            try:
                client.get("x")
                result = "ok"
            except CircuitOpenError:
                result = "rejected"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=call) for _ in range(32)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(outcomes) >= 30:
                    break
            time.sleep(0.01)
        gate.set()
        for t in threads:
            t.join(10)
    assert outcomes.count("ok") == 2
    assert outcomes.count("rejected") == 30
    assert server.count("GET", "/x") == 2 + 2  # two failures that tripped it, two probes


def test_budget_bounds_attempts_under_total_failure(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/down")] = lambda req: Reply(503, "down")
    policy = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.002)
    with HTTPClient(server.url, retry=policy, breaker=None, hooks=[]) as client:
        for _ in range(100):
            with pytest.raises(HTTPStatusError):
                client.get("down")
    assert 100 <= server.count("GET", "/down") <= 150


def test_secrets_redacted_in_logs_and_errors(
    server: LocalHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    from syncclients import BearerAuth

    secret = "tok-SECRET-42"
    server.routes[("GET", "/x")] = lambda req: Reply(503, "down")
    with caplog.at_level(logging.DEBUG):
        with HTTPClient(
            server.url,
            auth=BearerAuth(secret),
            retry=RetryPolicy(max_attempts=2, initial_delay_s=0.01),
        ) as client:
            with pytest.raises(HTTPStatusError) as info:
                client.get("x", params={"token": secret})
            text = repr(client) + str(info.value) + repr(info.value.__dict__.get("body_excerpt"))
    assert server.requests[0].headers["Authorization"] == f"Bearer {secret}"  # it was sent...
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("syncclients")]
    assert ours and not any(secret in m for m in ours)  # ...but never logged by us
    # (urllib3's own DEBUG log prints request lines with their query: keep secrets in headers)
    assert secret not in text
