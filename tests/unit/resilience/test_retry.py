"""Budgeted retry around the breaker: attempts, jitter, Retry-After, deadline, budget, hooks."""

from __future__ import annotations

import logging
import random

import pytest

from syncclients import (
    BreakerPolicy,
    CircuitOpenError,
    ConnectError,
    DeadlineExceeded,
    HTTPStatusError,
    ReadTimeout,
    RetryBudgetPolicy,
    RetryPolicy,
    UsageError,
)
from syncclients.resilience import (
    AttemptRecord,
    CircuitBreaker,
    LoggingHook,
    Resilience,
    RetryBudget,
)
from syncclients.resilience import retry as retry_mod


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff sleeps instead of sleeping (backoff sleeps through time.sleep)."""
    recorded: list[float] = []
    monkeypatch.setattr(retry_mod.backoff._sync.time, "sleep", recorded.append)
    return recorded


def make(
    retry: RetryPolicy, *, breaker: CircuitBreaker | None = None, budget: RetryBudget | None = None
):
    records: list[AttemptRecord] = []
    res = Resilience(
        target="svc", retry=retry, breaker=breaker, budget=budget, hooks=[records.append]
    )
    return res, records


def always(exc: Exception):
    calls = []

    def fn(ctx) -> None:
        calls.append(ctx.attempt)
        raise exc

    return fn, calls


def test_retries_up_to_max_attempts_then_raises_last_error(sleeps: list[float]) -> None:
    res, records = make(RetryPolicy(max_attempts=4, initial_delay_s=0.1, jitter=False))
    fn, calls = always(ConnectError("refused"))
    with pytest.raises(ConnectError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert calls == [1, 2, 3, 4]
    assert sleeps == [0.1, 0.2, 0.4]
    assert [r.will_retry for r in records] == [True, True, True, False]
    assert records[-1].give_up_reason == "max_attempts"


def test_full_jitter_stays_within_computed_delay(sleeps: list[float]) -> None:
    random.seed(7)
    res, _ = make(RetryPolicy(max_attempts=6, initial_delay_s=1.0, max_delay_s=3.0))
    fn, _ = always(ConnectError("x"))
    with pytest.raises(ConnectError):
        res.call(fn, operation="op", retryable=lambda e: True)
    caps = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert all(0 <= s <= c for s, c in zip(sleeps, caps, strict=True))
    assert len(set(sleeps)) == len(sleeps)  # jittered, not fixed


def test_success_after_failures_returns_value(sleeps: list[float]) -> None:
    res, records = make(RetryPolicy(max_attempts=3, initial_delay_s=0))
    state = {"n": 0}

    def flaky(ctx) -> str:
        state["n"] += 1
        if state["n"] < 3:
            raise ConnectError("x")
        return "ok"

    assert res.call(flaky, operation="op", retryable=lambda e: True) == "ok"
    assert [r.outcome for r in records] == ["failure", "failure", "success"]


def test_not_retryable_raises_at_once(sleeps: list[float]) -> None:
    res, records = make(RetryPolicy(max_attempts=5))
    fn, calls = always(ReadTimeout("slow"))
    with pytest.raises(ReadTimeout):
        res.call(fn, operation="op", retryable=lambda e: False)
    assert calls == [1]
    assert records[0].give_up_reason == "not_retryable"


def test_retry_on_narrows_but_never_widens(sleeps: list[float]) -> None:
    res, _ = make(RetryPolicy(max_attempts=5, initial_delay_s=0, retry_on=lambda e: True))
    fn, calls = always(ReadTimeout("slow"))
    with pytest.raises(ReadTimeout):  # client says unsafe: retry_on=True cannot override
        res.call(fn, operation="op", retryable=lambda e: False)
    assert calls == [1]
    res, _ = make(RetryPolicy(max_attempts=5, initial_delay_s=0, retry_on=lambda e: False))
    fn, calls = always(ConnectError("x"))
    with pytest.raises(ConnectError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert calls == [1]


@pytest.mark.parametrize("exc", [CircuitOpenError("svc", 3.0), UsageError("bug")])
def test_circuit_open_and_usage_errors_are_final(exc: Exception, sleeps: list[float]) -> None:
    res, _ = make(RetryPolicy(max_attempts=5))
    fn, calls = always(exc)
    with pytest.raises(type(exc)):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert calls == [1]


def test_retry_after_is_honoured_exactly_without_jitter(sleeps: list[float]) -> None:
    res, records = make(RetryPolicy(max_attempts=2, initial_delay_s=5.0, jitter=True))
    fn, _ = always(HTTPStatusError("busy", status_code=503, retry_after=1.25))
    with pytest.raises(HTTPStatusError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert sleeps == [1.25]
    assert records[0].delay_s == 1.25


def test_retry_after_beyond_deadline_gives_up_instead_of_retrying_early(
    sleeps: list[float],
) -> None:
    res, records = make(RetryPolicy(max_attempts=5, deadline_s=2.0))
    fn, calls = always(HTTPStatusError("busy", status_code=503, retry_after=30))
    with pytest.raises(HTTPStatusError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert calls == [1]
    assert sleeps == []
    assert records[-1].give_up_reason == "deadline"


def test_retry_after_over_cap_gives_up(sleeps: list[float]) -> None:
    res, records = make(RetryPolicy(max_attempts=5, deadline_s=None, max_retry_after_s=10))
    fn, _ = always(HTTPStatusError("busy", status_code=503, retry_after=3600))
    with pytest.raises(HTTPStatusError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert records[-1].give_up_reason == "retry_after_too_long"


def test_retry_after_ignored_when_disabled(sleeps: list[float]) -> None:
    policy = RetryPolicy(
        max_attempts=2, initial_delay_s=0.5, jitter=False, respect_retry_after=False
    )
    res, _ = make(policy)
    fn, _ = always(HTTPStatusError("busy", status_code=503, retry_after=9))
    with pytest.raises(HTTPStatusError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert sleeps == [0.5]


def test_attempt_sees_remaining_deadline_and_timeout_past_deadline_becomes_deadline_exceeded() -> (
    None
):
    now = [0.0]
    res = Resilience(
        target="svc",
        retry=RetryPolicy(max_attempts=3, deadline_s=5.0),
        breaker=None,
        budget=None,
        hooks=[],
        clock=lambda: now[0],
    )
    seen = []

    def fn(ctx) -> None:
        seen.append(ctx.remaining_s())
        now[0] += 6.0  # the attempt used up the deadline
        raise ReadTimeout("slow", timeout_s=5.0)

    with pytest.raises(DeadlineExceeded) as info:
        res.call(fn, operation="op", retryable=lambda e: True)
    assert seen == [5.0]
    assert isinstance(info.value.__cause__, ReadTimeout)
    assert isinstance(info.value, TimeoutError)


def test_per_call_deadline_none_disables_it() -> None:
    res, _ = make(RetryPolicy(deadline_s=1.0))
    seen = []
    res.call(
        lambda ctx: seen.append(ctx.remaining_s()),
        operation="op",
        retryable=lambda e: True,
        deadline_s=None,
    )
    assert seen == [None]


def test_budget_bounds_attempts_under_total_failure(sleeps: list[float]) -> None:
    budget = RetryBudget(RetryBudgetPolicy())
    res, _ = make(RetryPolicy(max_attempts=4, initial_delay_s=0), budget=budget)
    fn, calls = always(ConnectError("down"))
    for _ in range(100):
        with pytest.raises(ConnectError):
            res.call(fn, operation="op", retryable=lambda e: True)
    assert len(calls) <= 150  # naive retrying would make 400
    assert len(calls) >= 100


def test_budget_refills_on_success() -> None:
    budget = RetryBudget(RetryBudgetPolicy(max_tokens=10, token_ratio=1.0))
    for _ in range(6):
        budget.record_failure()
    assert not budget.allows_retry()  # 4 tokens
    budget.record_success()
    assert not budget.allows_retry()  # 5 tokens: at the threshold, still throttled (A6: >)
    budget.record_success()
    assert budget.allows_retry()
    for _ in range(20):
        budget.record_success()
    assert budget.tokens == 10


def test_breaker_inside_retry_rejection_is_final(sleeps: list[float]) -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, recovery_timeout_s=60), name="svc")
    res, records = make(RetryPolicy(max_attempts=5, initial_delay_s=0), breaker=breaker)
    fn, calls = always(ConnectError("down"))
    with pytest.raises(CircuitOpenError):
        res.call(fn, operation="op", retryable=lambda e: True)
    assert calls == [1, 2]  # the third attempt was rejected by the open breaker
    assert [r.outcome for r in records] == ["failure", "failure", "rejected"]
    assert records[-1].breaker_state == "open"


def test_logging_hook_uses_namespaced_extra(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    res = Resilience(
        target="svc",
        retry=RetryPolicy(max_attempts=2, initial_delay_s=0),
        breaker=None,
        budget=None,
    )
    fn, _ = always(ConnectError("down"))
    with (
        caplog.at_level(logging.DEBUG, logger="syncclients.resilience"),
        pytest.raises(ConnectError),
    ):
        res.call(fn, operation="GET /x", retryable=lambda e: True)
    first, last = caplog.records
    assert first.levelno == logging.INFO and last.levelno == logging.WARNING
    assert getattr(first, "syncclients.target") == "svc"
    assert getattr(first, "syncclients.attempt") == 1
    assert getattr(last, "syncclients.give_up_reason") == "max_attempts"
    assert isinstance(LoggingHook(), object)


def test_broken_hook_does_not_break_calls() -> None:
    def bad_hook(record: AttemptRecord) -> None:
        raise RuntimeError("hook bug")

    res = Resilience(target="svc", retry=RetryPolicy(), breaker=None, budget=None, hooks=[bad_hook])
    assert res.call(lambda ctx: 5, operation="op", retryable=lambda e: True) == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay_s": -1},
        {"deadline_s": 0},
        {"multiplier": 0.5},
        {"retry_on": 3},
    ],
)
def test_invalid_retry_policy(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        RetryPolicy(**kwargs)
