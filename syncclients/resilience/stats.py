"""Per-client call counters and latency percentiles, and the snapshot they make.

One :class:`CallStats` per client: it is a :class:`~syncclients.resilience.hooks.Hook` (it
counts attempts, retries and breaker rejections from the records) and the client reports
each finished call with :meth:`CallStats.finish`. :meth:`CallStats.snapshot` builds the
:class:`ClientMetrics` that ``HTTPClient.metrics()`` returns and ``MCPClient.metrics()``
extends. Knows nothing of protocols.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .breaker import BreakerInfo, CircuitBreaker
from .budget import RetryBudget
from .hooks import AttemptRecord

__all__ = ["LATENCY_SAMPLES", "CallStats", "ClientMetrics"]

T = TypeVar("T")

#: Calls whose latency the percentiles are computed over (the most recent ones).
LATENCY_SAMPLES = 2048


@dataclass(frozen=True, slots=True)
class ClientMetrics:
    """A snapshot of a client's counters since it was created.

    Attributes:
        calls: logical calls finished (each may have made several attempts).
        successes: calls that returned a response (any status the call accepted).
        errors: calls that raised.
        attempts: attempts made (calls plus retries, rejected ones excluded).
        retries: attempts that were retries.
        rejected: calls refused by the open breaker.
        latency_p50_s, latency_p95_s, latency_p99_s, latency_max_s: call latency in seconds
            over the most recent 2048 calls (None before the first call).
        breaker: the breaker's snapshot, or None without a breaker.
        budget_tokens: the retry budget's tokens, or None without a budget.
    """

    calls: int
    successes: int
    errors: int
    attempts: int
    retries: int
    rejected: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    latency_max_s: float | None
    breaker: BreakerInfo | None
    budget_tokens: float | None


class CallStats:
    """Thread-safe counters of one client; a hook (pass it first in the client's hooks)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = self.successes = self.errors = 0
        self.attempts = self.retries = self.rejected = 0
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    def __call__(self, record: AttemptRecord) -> None:  # a Hook
        with self.lock:
            if record.outcome == "rejected":
                self.rejected += 1
                return
            self.attempts += 1
            if record.attempt > 1:
                self.retries += 1

    def finish(self, ok: bool, latency_s: float) -> None:
        """Count one finished call and its latency in seconds (all attempts included)."""
        with self.lock:
            self.calls += 1
            if ok:
                self.successes += 1
            else:
                self.errors += 1
            self.latencies.append(latency_s)

    def timed(self, call: Callable[[], T]) -> T:
        """Run ``call`` (a whole logical call) and count it with :meth:`finish`.

        Returns:
            What ``call`` returns; its exception propagates (counted as an error).
        """
        started = time.monotonic()
        ok = False
        try:
            result = call()
            ok = True
            return result
        finally:
            self.finish(ok, time.monotonic() - started)

    def percentiles(self) -> tuple[float | None, ...]:
        """``(p50, p95, p99, max)`` latency in seconds, or four Nones before any call."""
        with self.lock:
            data = sorted(self.latencies)
        if not data:
            return (None, None, None, None)

        def pick(q: float) -> float:
            return data[min(len(data) - 1, int(q * len(data)))]

        return (pick(0.50), pick(0.95), pick(0.99), data[-1])

    def snapshot_fields(
        self, breaker: CircuitBreaker | None, budget: RetryBudget | None
    ) -> dict[str, Any]:
        """The :class:`ClientMetrics` fields as keyword arguments (for a subclass)."""
        p50, p95, p99, pmax = self.percentiles()
        with self.lock:
            counts = {
                "calls": self.calls,
                "successes": self.successes,
                "errors": self.errors,
                "attempts": self.attempts,
                "retries": self.retries,
                "rejected": self.rejected,
            }
        return {
            **counts,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_p99_s": p99,
            "latency_max_s": pmax,
            "breaker": breaker.info() if breaker is not None else None,
            "budget_tokens": budget.tokens if budget is not None else None,
        }

    def snapshot(self, breaker: CircuitBreaker | None, budget: RetryBudget | None) -> ClientMetrics:
        """A :class:`ClientMetrics` of these counters and the client's breaker and budget."""
        return ClientMetrics(**self.snapshot_fields(breaker, budget))
