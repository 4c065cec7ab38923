"""HTTPClient under injected faults: resets, 503 storms, slow and oversized answers, bad JSON.

For each: every call gets exactly one outcome, nothing runs past its deadline, the retry
budget bounds attempts and the breaker opens as configured (the leak check is autouse).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectError,
    ConnectionLostError,
    HTTPClient,
    HTTPStatusError,
    ProtocolError,
    ResponseTooLargeError,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeout,
)
from syncclients.batch import BatchCall, run_batch
from syncclients.testing import LocalHTTPServer, Reply

from .faults import FaultProxy, RawHTTPServer, assert_one_outcome_each, sockets_to

NO_BREAKER = None
FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay_s=0.0, max_delay_s=0.0, deadline_s=10.0)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    srv.routes[("GET", "/ok")] = lambda _r: Reply(200, {"ok": True})
    srv.routes[("GET", "/big")] = lambda _r: Reply(200, {"data": "z" * 5000})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def proxy(server: LocalHTTPServer) -> Iterator[FaultProxy]:
    with FaultProxy(int(server.url.rsplit(":", 1)[1])) as p:
        yield p


def _get_batch(client: HTTPClient, n: int, path: str = "ok", **kw: object) -> list:
    def one(_i: int, call: BatchCall) -> object:
        return client.get(path, deadline_s=call.timeout_s)

    return run_batch(one, range(n), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["reset", "reset_after_request", "corrupt", "truncate"])
def test_broken_connections_fail_each_call_once(proxy: FaultProxy, mode: str) -> None:
    proxy.mode = mode
    # inside the body (http.client takes a cut inside the headers as their end: a 200 with
    # an empty body, which no client above it can tell from a real one)
    proxy.truncate_after = 1000
    with HTTPClient(proxy.url, retry=FAST_RETRY, breaker=NO_BREAKER) as client:
        outcomes = _get_batch(client, 20, "big", max_workers=4, deadline=20)
    assert_one_outcome_each(outcomes, 20)
    for o in outcomes:
        # a reset during connection set-up is ConnectError (nothing sent), later ones
        # ConnectionLostError; a garbled status line is a lost connection too
        assert isinstance(o.error, ConnectError | ConnectionLostError | ProtocolError), o.error


def test_resets_then_recovery_reuses_the_pool(proxy: FaultProxy, server: LocalHTTPServer) -> None:
    with HTTPClient(proxy.url, retry=FAST_RETRY, breaker=NO_BREAKER) as client:
        proxy.mode = "reset"
        with pytest.raises((ConnectError, ConnectionLostError)):
            client.get("ok")
        proxy.mode = "pass"
        before = proxy.connections
        for _ in range(20):
            assert client.get("ok") == {"ok": True}
        assert proxy.connections - before == 1  # one new connection, then reused


def test_post_is_not_retried_after_a_reset(proxy: FaultProxy) -> None:
    proxy.mode = "reset_after_request"
    with HTTPClient(proxy.url, retry=FAST_RETRY, breaker=NO_BREAKER, budget=None) as client:
        with pytest.raises(ConnectionLostError):
            client.post("ok", json={"x": 1})
    assert proxy.connections == 1


def test_retry_budget_bounds_attempts_across_a_failing_batch(proxy: FaultProxy) -> None:
    proxy.mode = "reset"
    budget = RetryBudgetPolicy(max_tokens=10, token_ratio=0.1)
    with HTTPClient(proxy.url, retry=FAST_RETRY, breaker=NO_BREAKER, budget=budget) as client:
        outcomes = _get_batch(client, 60, max_workers=1, deadline=30)
    assert_one_outcome_each(outcomes, 60)
    assert all(isinstance(o.error, ConnectError | ConnectionLostError) for o in outcomes)
    # without a budget: 60 x 4 = 240 attempts; the budget stops retries after ~5 failures
    assert 60 <= proxy.connections <= 60 + 10


def test_503_storm_retry_after_is_honoured_and_budget_bounds_attempts(
    server: LocalHTTPServer,
) -> None:
    seen: list[float] = []

    def storm(_r: object) -> Reply:
        seen.append(time.monotonic())
        return Reply(503, {"error": "busy"}, headers={"Retry-After": "1"})

    server.routes[("GET", "/busy")] = storm
    retry = RetryPolicy(max_attempts=3, deadline_s=10.0)
    with HTTPClient(server.url, retry=retry, breaker=NO_BREAKER) as client:
        started = time.monotonic()
        with pytest.raises(HTTPStatusError) as info:
            client.get("busy")
        assert info.value.status_code == 503
        assert info.value.retry_after == 1.0
        assert time.monotonic() - started < 5
    assert len(seen) == 3
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(0.95 <= g < 2.0 for g in gaps), gaps  # Retry-After exactly, no jitter


def test_503_storm_batch_budget_and_breaker(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/busy")] = lambda _r: Reply(503, b"busy", headers={"Retry-After": "0"})
    breaker = BreakerPolicy(failure_threshold=8, recovery_timeout_s=60.0)
    retry = RetryPolicy(max_attempts=5, deadline_s=10.0)
    with HTTPClient(server.url, retry=retry, breaker=breaker) as client:
        started = time.monotonic()
        outcomes = _get_batch(client, 50, "busy", max_workers=1, deadline=20)
        elapsed = time.monotonic() - started
        metrics = client.metrics()
    assert_one_outcome_each(outcomes, 50)
    assert elapsed < 10
    statuses = [type(o.error) for o in outcomes]
    assert set(statuses) <= {HTTPStatusError, CircuitOpenError}
    # every attempt counts as a breaker failure: it opens after 8, the rest are rejected
    served = server.count("GET", "/busy")
    assert served == 8, served
    assert statuses.count(CircuitOpenError) >= 45
    assert metrics.breaker is not None and metrics.breaker.state == "open"


def test_slow_answers_end_at_the_deadline(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/slow")] = lambda _r: Reply(200, {"late": True}, delay_s=5.0)
    retry = RetryPolicy(max_attempts=3, deadline_s=1.0)
    with HTTPClient(server.url, retry=retry, breaker=NO_BREAKER) as client:
        started = time.monotonic()
        outcomes = _get_batch(client, 8, "slow", max_workers=8, deadline=1.0)
        elapsed = time.monotonic() - started
    assert_one_outcome_each(outcomes, 8)
    assert all(isinstance(o.error, Timeout) for o in outcomes), [o.error for o in outcomes]
    assert elapsed < 1.0 + 0.75


def test_trickling_body_is_cut_at_the_deadline() -> None:
    def trickle(_head: bytes) -> list[bytes | float]:
        parts: list[bytes | float] = [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"]
        for _ in range(100):
            parts += [b"x" * 10, 0.05]  # each read arrives well inside the read timeout
        return parts

    with (
        RawHTTPServer(trickle) as raw,
        HTTPClient(raw.url, retry=RetryPolicy.never(deadline_s=0.6), breaker=NO_BREAKER) as client,
    ):
        started = time.monotonic()
        with pytest.raises(Timeout):
            client.get("x")
        assert time.monotonic() - started < 0.6 + 0.5


@pytest.mark.parametrize("declared", [True, False])
def test_oversized_bodies_are_refused(declared: bool) -> None:
    size = 3 * 1024 * 1024

    def big(_head: bytes) -> bytes:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        head += f"Content-Length: {size}\r\n".encode() if declared else b"Connection: close\r\n"
        return head + b"\r\n" + b"x" * size

    with (
        RawHTTPServer(big) as raw,
        HTTPClient(
            raw.url, max_response_bytes=1024 * 1024, retry=FAST_RETRY, breaker=NO_BREAKER
        ) as client,
    ):
        with pytest.raises(ResponseTooLargeError) as info:
            client.get("big")
        assert info.value.limit_bytes == 1024 * 1024
        assert raw.requests == 1  # our own limit: not retried


def test_invalid_json_is_a_protocol_error_not_retried(server: LocalHTTPServer) -> None:
    server.routes[("GET", "/bad")] = lambda _r: Reply(
        200, b'{"a": 1,,', headers={"Content-Type": "application/json"}
    )
    with HTTPClient(server.url, retry=FAST_RETRY) as client:
        outcomes = _get_batch(client, 10, "bad", max_workers=4)
    assert_one_outcome_each(outcomes, 10)
    assert all(isinstance(o.error, ProtocolError) for o in outcomes)
    assert server.count("GET", "/bad") == 10


def test_truncated_body_is_connection_lost() -> None:
    def short(_head: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 40

    with (
        RawHTTPServer(short) as raw,
        HTTPClient(raw.url, retry=FAST_RETRY, breaker=NO_BREAKER, budget=None) as client,
    ):
        with pytest.raises(ConnectionLostError):
            client.get("x")
        assert raw.requests == 4  # a GET: retried up to max_attempts


def test_close_closes_pooled_sockets_while_an_error_is_still_held(server: LocalHTTPServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    client = HTTPClient(server.url, retry=RetryPolicy.never(), breaker=NO_BREAKER)
    outcomes = _get_batch(client, 8, max_workers=4)
    assert all(o.ok for o in outcomes)
    try:
        client.get("missing")  # 404: the error keeps its response and traceback
    except HTTPStatusError as exc:
        kept = exc
    assert sockets_to(port) >= 1
    client.close()
    # urllib3 2 only forgets its pools on clear(); ours closes them, so nothing depends on
    # when the held error (and the pool its traceback references) is collected
    assert sockets_to(port) == 0
    assert kept.status_code == 404
