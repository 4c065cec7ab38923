"""Retrying with capped exponential backoff and full jitter, on the ``backoff`` package.

This is the only module that imports ``backoff`` (archived upstream in 2025; its last
release is 2.2.1), so its limits are handled here:

- ``backoff`` has no shared budget and measures ``max_time`` on the wall clock: the overall
  deadline is a monotonic instant checked in our wait generator, and the retry budget is
  consulted there before every retry;
- ``backoff`` jitters runtime delays too: we pass ``jitter=None`` and apply full jitter
  ourselves to computed delays only, so a server-given delay (Retry-After, gRPC pushback)
  is honoured exactly;
- a server-given delay that exceeds ``max_retry_after_s`` or the remaining deadline ends the
  retries instead of being shortened (a retry before the server's time is wasted load).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff

from ..config import RetryPolicy
from .budget import RetryBudget
from .hooks import GiveUpReason

__all__ = ["RetryEvents", "retry_call"]

T = TypeVar("T")


@dataclass(slots=True)
class RetryEvents:
    """Callbacks from :func:`retry_call` about the attempt that just ended.

    ``on_retry(error, delay_s)`` when another attempt follows after ``delay_s`` seconds;
    ``on_give_up(error, reason)`` when the error will be raised; ``on_success()``.
    """

    on_retry: Callable[[BaseException, float], None]
    on_give_up: Callable[[BaseException, GiveUpReason], None]
    on_success: Callable[[], None]


def retry_call(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    should_retry: Callable[[BaseException], bool],
    delay_hint: Callable[[BaseException], float | None],
    deadline: float | None,
    clock: Callable[[], float],
    budget: RetryBudget | None,
    events: RetryEvents,
) -> T:
    """Call ``attempt()`` until it succeeds or retrying must stop, and return its result.

    Args:
        attempt: one attempt; raises on failure.
        policy: attempts, delays, jitter and Retry-After handling.
        should_retry: whether a failure may be retried at all (safety classification).
        delay_hint: a server-given delay in seconds carried by the failure, or None.
        deadline: the monotonic instant (``clock()`` units, seconds) after which no attempt
            starts, or None.
        clock: the monotonic clock the deadline is measured on.
        budget: the shared retry budget, or None for no budget.
        events: callbacks for instrumentation.

    Returns:
        What the first successful attempt returned.

    Raises:
        Exception: the last attempt's exception, unchanged, when retrying stops.
    """
    # Fast path: most calls succeed at once, and building backoff's decorator costs more than
    # the rest of the policy stack together (profiled: ~20% of a call's own CPU). Only a
    # failed first attempt pays for it; its error is replayed into backoff as attempt 1, so
    # delays, give-up reasons and events are exactly as if backoff had made that attempt.
    try:
        result = attempt()
    except Exception as exc:
        first: list[Exception] = [exc]
    else:
        events.on_success()
        return result

    def replay_then_attempt() -> T:
        if first:
            raise first.pop()
        return attempt()

    reason: list[GiveUpReason] = []

    def giveup(exc: Exception) -> bool:
        if should_retry(exc):
            return False
        reason.append("not_retryable")
        return True

    def wait_gen() -> Any:  # backoff's wait-generator protocol: primed with None, then sent errors
        failed = 0
        exc = yield None
        while True:
            failed += 1
            hint = delay_hint(exc) if policy.respect_retry_after else None
            if hint is not None:
                delay = max(0.0, hint)
                if delay > policy.max_retry_after_s:
                    reason.append("retry_after_too_long")
                    return
            else:
                delay = policy.backoff_s(failed)
                if policy.jitter:
                    delay = random.uniform(0.0, delay)  # noqa: S311 - jitter, not crypto
            if deadline is not None and clock() + delay >= deadline:
                reason.append("deadline")
                return
            if budget is not None and not budget.allows_retry():
                reason.append("budget_exhausted")
                return
            exc = yield delay

    def on_backoff(details: Any) -> None:
        events.on_retry(details["exception"], details["wait"])

    def on_giveup(details: Any) -> None:
        events.on_give_up(details["exception"], reason[-1] if reason else "max_attempts")

    def on_success(_details: Any) -> None:
        events.on_success()

    retrying = backoff.on_exception(
        wait_gen,
        Exception,
        max_tries=policy.max_attempts,
        jitter=None,
        giveup=giveup,
        on_backoff=on_backoff,
        on_giveup=on_giveup,
        on_success=on_success,
        raise_on_giveup=True,
        logger=None,
    )(replay_then_attempt)
    retried: T = retrying()
    return retried
