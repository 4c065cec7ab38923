"""MCPClient over stdio under injected faults: a server killed mid-batch (with and without
``restart_on_exit``), malformed lines, unknown ids, oversized lines, answers slower than the
timeout. For each: one outcome per call, bounded time, no thread/fd/process left behind
(the leak check is autouse), breaker and budget as configured."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectionLostError,
    MCPClient,
    ReadTimeout,
    RetryBudgetPolicy,
    RetryPolicy,
    ServerExitedError,
    Timeout,
)
from syncclients.transports import stdio as stdio_transport

from .faults import assert_one_outcome_each

SERVER = [sys.executable, str(Path(__file__).parent / "servers" / "misbehaving_stdio.py")]


def make(**options: object) -> MCPClient:
    options.setdefault("era", "legacy")
    options.setdefault("timeouts", (10.0, 10.0))
    return MCPClient.stdio(SERVER, shutdown_grace_s=1.0, **options)  # type: ignore[arg-type]


@pytest.fixture
def client() -> Iterator[MCPClient]:
    c = make(breaker=None)
    try:
        yield c.connect()
    finally:
        c.close()


def kill_later(pid: int, after_s: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after_s)  # the fault's moment inside the batch, not a settle-wait
        os.killpg(pid, signal.SIGKILL)

    thread = threading.Thread(target=run, name="killer")
    thread.start()
    return thread


def test_malformed_lines_and_unknown_ids_do_not_disturb_calls(client: MCPClient) -> None:
    calls = [("garbage", {}), ("unknown_id", {}), ("echo", {"text": "x"})] * 10
    outcomes = client.call_tool_batch(calls, max_workers=6, deadline=20)
    assert_one_outcome_each(outcomes, 30)
    texts = [o.result.text for o in outcomes if o.result is not None]
    assert texts == ["after garbage", "after strays", "x"] * 10


def test_a_malformed_answer_times_out_at_the_callers_limit(client: MCPClient) -> None:
    started = time.monotonic()
    outcomes = client.call_tool_batch(
        [("bad_result", {})] * 6 + [("echo", {"text": "ok"})] * 6, max_workers=12, timeout=0.5
    )
    elapsed = time.monotonic() - started
    assert_one_outcome_each(outcomes, 12)
    assert all(isinstance(o.error, Timeout) for o in outcomes[:6])
    assert all(o.ok for o in outcomes[6:])
    assert elapsed < 0.5 + 0.75
    assert client.call_tool("echo", {"text": "still fine"}).text == "still fine"


def test_answers_slower_than_the_timeout(client: MCPClient) -> None:
    client.list_tools()  # `slow` is idempotent: retried, but within the call's limit
    started = time.monotonic()
    outcomes = client.call_tool_batch([("slow", {"ms": 3000})] * 8, max_workers=8, timeout=0.4)
    assert time.monotonic() - started < 0.4 + 0.75
    assert_one_outcome_each(outcomes, 8)
    assert all(isinstance(o.error, Timeout) for o in outcomes)
    with pytest.raises(ReadTimeout):
        client.call_tool("slow", {"ms": 3000}, timeout=0.2, idempotent=False)


def test_a_large_line_under_the_limit_is_fine(client: MCPClient) -> None:
    assert client.call_tool("oversized", {"bytes": 4 << 20}).text == "after oversized"


def test_an_oversized_line_fails_the_calls_in_flight_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stdio_transport, "MAX_LINE_BYTES", 64 * 1024)
    with make(breaker=None) as client:
        first_pid = client.pid
        calls = [("slow", {"ms": 300})] * 5 + [("oversized", {"bytes": 256 * 1024})]
        started = time.monotonic()
        outcomes = client.call_tool_batch(calls, max_workers=6, deadline=10)
        assert time.monotonic() - started < 5
        assert_one_outcome_each(outcomes, 6)
        for o in outcomes:
            assert isinstance(o.error, ConnectionLostError), o.error
            assert "exceeds" in str(o.error)
        # the broken connection is restarted on the next call (restart_on_exit default)
        assert client.call_tool("echo", {"text": "x"}).text == "x"
        assert client.pid not in (None, first_pid)


def test_an_oversized_line_stays_lost_with_restart_on_exit_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stdio_transport, "MAX_LINE_BYTES", 64 * 1024)
    with make(breaker=None, restart_on_exit=False) as client:
        with pytest.raises(ConnectionLostError, match="exceeds"):
            client.call_tool("oversized", {"bytes": 256 * 1024})
        with pytest.raises(ConnectionLostError, match="exceeds"):  # the loss stays
            client.call_tool("echo", {"text": "x"})


def test_server_killed_mid_batch_without_restart() -> None:
    with make(breaker=None, restart_on_exit=False) as client:
        pid = client.pid
        assert pid is not None
        killer = kill_later(pid, 0.5)
        started = time.monotonic()
        outcomes = client.call_tool_batch([("slow", {"ms": 200})] * 40, max_workers=8, deadline=20)
        elapsed = time.monotonic() - started
        killer.join(5)
    assert elapsed < 5
    assert_one_outcome_each(outcomes, 40)
    ok = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    assert 8 <= len(ok) < 40
    # The first wave (8 calls of 200 ms, started at once) finished before the kill at
    # 500 ms. Later waves finish out of order on 8 workers, so the successes need not be
    # a prefix of the input.
    assert all(o.ok for o in outcomes[:8])
    for o in failed:
        assert isinstance(o.error, ServerExitedError), o.error
        assert o.error.exit_code == -signal.SIGKILL


def test_server_killed_mid_batch_with_restart_on_exit() -> None:
    client = make(
        breaker=None,
        restart_on_exit=True,
        retry=RetryPolicy(max_attempts=3, initial_delay_s=0.01, deadline_s=None),
        retry_budget=RetryBudgetPolicy(max_tokens=100),
    )
    with client:
        client.list_tools()  # learn that `slow` is idempotent (so it may be retried)
        first_pid = client.pid
        assert first_pid is not None
        killer = kill_later(first_pid, 0.5)
        started = time.monotonic()
        outcomes = client.call_tool_batch([("slow", {"ms": 200})] * 40, max_workers=8, deadline=20)
        elapsed = time.monotonic() - started
        killer.join(5)
        assert client.pid not in (None, first_pid)  # a new server process
    assert elapsed < 10
    assert_one_outcome_each(outcomes, 40)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert max(o.attempts for o in outcomes) == 2  # the calls in flight were replayed once


def test_restart_on_exit_never_replays_a_non_idempotent_call() -> None:
    with make(breaker=None, restart_on_exit=True) as client:
        pid = client.pid
        assert pid is not None
        killer = kill_later(pid, 0.3)
        outcomes = client.call_tool_batch(
            [("slow", {"ms": 1000})] * 4, max_workers=4, deadline=10
        )  # tools not listed: `slow` is not known to be idempotent
        killer.join(5)
        assert_one_outcome_each(outcomes, 4)
        assert all(isinstance(o.error, ServerExitedError) for o in outcomes)
        assert all(o.attempts == 1 for o in outcomes)
        assert client.call_tool("echo", {"text": "back"}).text == "back"  # restarted


def test_default_budget_limits_replays_after_a_crash() -> None:
    # default budget: 10 tokens, retries only while more than 5 remain
    with make(breaker=None, restart_on_exit=True, retry=RetryPolicy(deadline_s=None)) as client:
        client.list_tools()
        pid = client.pid
        assert pid is not None
        killer = kill_later(pid, 0.3)
        outcomes = client.call_tool_batch([("slow", {"ms": 1000})] * 8, max_workers=8, deadline=20)
        killer.join(5)
    assert_one_outcome_each(outcomes, 8)
    replayed = [o for o in outcomes if o.attempts == 2]
    failed = [o for o in outcomes if not o.ok]
    assert len(replayed) <= 5  # the budget allowed about 5 retries
    assert len(failed) == 8 - len(replayed) >= 3
    assert all(isinstance(o.error, ServerExitedError) for o in failed)


def test_breaker_opens_when_the_server_dies_mid_batch() -> None:
    breaker = BreakerPolicy(failure_threshold=3, recovery_timeout_s=60)
    with make(breaker=breaker, restart_on_exit=False) as client:
        pid = client.pid
        assert pid is not None
        killer = kill_later(pid, 0.5)
        outcomes = client.call_tool_batch([("slow", {"ms": 200})] * 60, max_workers=4, deadline=20)
        killer.join(5)
    assert_one_outcome_each(outcomes, 60)
    errors = [type(o.error) for o in outcomes if not o.ok]
    assert set(errors) <= {ServerExitedError, CircuitOpenError}
    assert errors.count(ServerExitedError) <= 4 + 3  # in flight + the threshold
    assert errors.count(CircuitOpenError) >= 1
    # once open, nothing more reaches the (dead) server: all later calls are rejections
    first_open = next(i for i, o in enumerate(outcomes) if isinstance(o.error, CircuitOpenError))
    assert all(isinstance(o.error, CircuitOpenError) for o in outcomes[first_open + 4 :])
