"""A retry budget shared by every call of one client (gRPC proposal A6 retry throttling)."""

from __future__ import annotations

import threading

from ..config import RetryBudgetPolicy

__all__ = ["RetryBudget"]


class RetryBudget:
    """A thread-safe token bucket that stops retries when a target keeps failing.

    Tokens start at ``policy.max_tokens``. :meth:`record_failure` (an attempt failed in a
    way the client would retry) takes one token; :meth:`record_success` returns
    ``policy.token_ratio``. :meth:`allows_retry` is True while tokens exceed half of
    ``max_tokens``. Source: gRPC proposal A6 "Client-side retry throttling".

    Args:
        policy: the bucket size and refill ratio.
    """

    def __init__(self, policy: RetryBudgetPolicy | None = None) -> None:
        self.policy = policy or RetryBudgetPolicy()
        self._tokens = self.policy.max_tokens
        self._lock = threading.Lock()

    @property
    def tokens(self) -> float:
        """The tokens in the bucket now (0 .. max_tokens)."""
        with self._lock:
            return self._tokens

    def record_success(self) -> None:
        """Return ``token_ratio`` tokens, up to ``max_tokens``."""
        with self._lock:
            self._tokens = min(self.policy.max_tokens, self._tokens + self.policy.token_ratio)

    def record_failure(self) -> None:
        """Take one token (never below 0)."""
        with self._lock:
            self._tokens = max(0.0, self._tokens - 1.0)

    def allows_retry(self) -> bool:
        """True when a retry may be made now (tokens > max_tokens / 2)."""
        with self._lock:
            return self._tokens > self.policy.max_tokens / 2

    def __repr__(self) -> str:
        return f"RetryBudget(tokens={self.tokens:.2f}, policy={self.policy!r})"
