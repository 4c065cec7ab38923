"""Client-side rate limiting per provider: requests per minute and tokens per minute.

Two token buckets (continuous refill, capacity one minute's worth), shared by every thread
that uses the provider. A call takes one request and its estimated tokens; when the buckets
cannot serve it within the time it may wait, nothing is taken and the call is refused, so a
router can fail over to another provider instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import _positive
from ..errors import UsageError

__all__ = ["RateLimit", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider's client-side quota.

    Args:
        requests_per_minute: the most requests started per minute (None: no limit).
        tokens_per_minute: the most tokens (prompt estimate + ``max_tokens``) per minute
            (None: no limit). The prompt estimate is 1 token per 4 characters, corrected
            with the provider's reported usage when the call ends.
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        _positive("RateLimit.requests_per_minute", self.requests_per_minute)
        _positive("RateLimit.tokens_per_minute", self.tokens_per_minute)


class _Bucket:
    def __init__(self, per_minute: float, now: float) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.level = per_minute
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        amount = min(amount, self.capacity)  # a single call larger than a minute's quota
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate


class RateLimiter:
    """Thread-safe request and token buckets for one provider.

    Args:
        limit: the quota.
        clock: a monotonic clock in seconds; sleep: the sleep function (for tests).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        now = clock()
        rpm, tpm = limit.requests_per_minute, limit.tokens_per_minute
        self._requests = _Bucket(rpm, now) if rpm is not None else None
        self._tokens = _Bucket(tpm, now) if tpm is not None else None

    def acquire(self, tokens: int, max_wait_s: float | None) -> float | None:
        """Take one request and ``tokens`` tokens, waiting at most ``max_wait_s`` seconds.

        Args:
            tokens: the estimated tokens of the call.
            max_wait_s: the longest wait; 0: do not wait; None: wait as long as needed.

        Returns:
            None when taken; else the seconds the caller would have had to wait (nothing
            was taken).
        """
        if tokens < 0:
            raise UsageError("tokens must be >= 0")
        deadline = None if max_wait_s is None else self._clock() + max_wait_s
        with self._lock:
            while True:
                now = self._clock()
                wait = 0.0
                for bucket, amount in ((self._requests, 1.0), (self._tokens, float(tokens))):
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait_for(amount))
                if wait <= 0.0:
                    if self._requests is not None:
                        self._requests.level -= 1.0
                    if self._tokens is not None:
                        self._tokens.level -= min(float(tokens), self._tokens.capacity)
                    return None
                if deadline is not None and now + wait > deadline:
                    return wait
                self._wake.wait(wait)

    def correct(self, estimated: int, actual: int) -> None:
        """Replace a call's estimated tokens by what the provider reported (may go negative:
        later calls then wait)."""
        if self._tokens is None or actual <= 0:
            return
        with self._lock:
            self._tokens.level -= actual - estimated
