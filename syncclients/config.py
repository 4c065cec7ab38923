"""Frozen configuration values shared by every client.

Policies are immutable and safe to share between threads and clients; per-call state lives
in fresh objects inside the resilience layer. Every field name carries its unit (``_s`` for
seconds, ``_bytes`` for bytes). Invalid values raise :class:`~syncclients.errors.UsageError`
at construction, naming the field: nothing is silently replaced by a default.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from .errors import UsageError

__all__ = [
    "USE_CLIENT_DEFAULT",
    "BreakerPolicy",
    "PoolLimits",
    "RetryBudgetPolicy",
    "RetryPolicy",
    "Timeouts",
    "UseClientDefault",
]


class UseClientDefault(enum.Enum):
    """Type of :data:`USE_CLIENT_DEFAULT`: "use what the client was configured with".

    Distinct from None, which means "no limit" / "not set" where a parameter allows it.
    """

    USE_CLIENT_DEFAULT = "USE_CLIENT_DEFAULT"

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = UseClientDefault.USE_CLIENT_DEFAULT


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise UsageError(f"{name} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise UsageError(f"{name} must be {bound}, got {value!r}")


def _count(name: str, value: int, *, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt time limits, in seconds.

    Args:
        connect_s: the most time to establish a connection (TCP and TLS). None: no limit.
        read_s: the most time to wait between bytes from the peer (not the whole body; the
            overall deadline of :class:`RetryPolicy` bounds the whole call). None: no limit.
    """

    connect_s: float | None = 5.0
    read_s: float | None = 30.0

    def __post_init__(self) -> None:
        _positive("Timeouts.connect_s", self.connect_s)
        _positive("Timeouts.read_s", self.read_s)

    @classmethod
    def coerce(cls, value: Timeouts | float | tuple[float | None, float | None] | None) -> Timeouts:
        """Build Timeouts from what requests users pass.

        Args:
            value: a Timeouts; a number (seconds, used for both connect and read); a
                ``(connect_s, read_s)`` pair; or None (no limits at all).

        Raises:
            UsageError: the value has another shape or a non-positive number.
        """
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return cls(None, None)
        if isinstance(value, tuple):
            if len(value) != 2:
                raise UsageError(f"timeout pair must be (connect_s, read_s), got {value!r}")
            return cls(value[0], value[1])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(float(value), float(value))
        raise UsageError(f"timeout must be seconds, a (connect, read) pair or None: {value!r}")

    def capped(self, remaining_s: float | None) -> Timeouts:
        """Return these limits, each capped at ``remaining_s`` seconds (None: unchanged)."""
        if remaining_s is None:
            return self
        remaining_s = max(remaining_s, 0.001)
        return Timeouts(
            remaining_s if self.connect_s is None else min(self.connect_s, remaining_s),
            remaining_s if self.read_s is None else min(self.read_s, remaining_s),
        )


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Connection pool sizing for HTTP clients (urllib3 pools behind a requests adapter).

    Args:
        pool_connections: how many per-host pools are kept (least recently used are dropped).
        pool_maxsize: the most connections kept open per host.
        block: when True, at most ``pool_maxsize`` connections per host exist at once and
            a caller waits for a free one (at most ``pool_timeout_s``); when False, extra
            connections are opened under load and discarded afterwards.
        pool_timeout_s: the most time to wait for a free connection when ``block`` is True;
            then :class:`~syncclients.errors.PoolTimeout`. None: wait without limit.
    """

    pool_connections: int = 10
    pool_maxsize: int = 10
    block: bool = True
    pool_timeout_s: float | None = 10.0

    def __post_init__(self) -> None:
        _count("PoolLimits.pool_connections", self.pool_connections)
        _count("PoolLimits.pool_maxsize", self.pool_maxsize)
        _positive("PoolLimits.pool_timeout_s", self.pool_timeout_s)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a call is retried: capped exponential backoff with full jitter, under a deadline.

    Only failures that the client classifies as safe to retry are retried (for example a
    connection that failed before sending, or a 503 to a GET); ``retry_on`` can narrow that
    further but never widens it to unsafe calls. :class:`~syncclients.errors.CircuitOpenError`
    and :class:`~syncclients.errors.UsageError` are never retried.

    Args:
        max_attempts: the most attempts, the first included (1: never retry).
        initial_delay_s: the backoff base: attempt n waits up to
            ``min(max_delay_s, initial_delay_s * multiplier ** (n - 1))`` seconds.
        max_delay_s: the cap of a computed delay, in seconds.
        multiplier: the exponential growth factor (>= 1).
        jitter: full jitter (AWS "Exponential Backoff and Jitter"): the delay is uniform in
            ``[0, computed]``. False: exactly the computed delay.
        deadline_s: the most time for the whole call, all attempts and delays included; when
            it runs out, :class:`~syncclients.errors.DeadlineExceeded`. Each attempt's
            timeouts are capped at what remains. None: bounded only by ``max_attempts``.
        retry_on: an extra predicate ``(exception) -> bool``; a failure is retried only when
            both the client's safety classification and this predicate agree. None: the
            client's classification alone.
        respect_retry_after: honour a server-given delay (HTTP Retry-After, RFC 9110
            section 10.2.3, or gRPC ``grpc-retry-pushback-ms``) exactly, without jitter. A
            server-given delay longer than ``max_retry_after_s`` or than the remaining
            deadline ends the retries (the last error is raised) rather than retrying early.
        max_retry_after_s: the longest server-given delay that is waited for, in seconds.
    """

    max_attempts: int = 3
    initial_delay_s: float = 0.1
    max_delay_s: float = 10.0
    multiplier: float = 2.0
    jitter: bool = True
    deadline_s: float | None = 60.0
    retry_on: Callable[[BaseException], bool] | None = None
    respect_retry_after: bool = True
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        _count("RetryPolicy.max_attempts", self.max_attempts)
        _positive("RetryPolicy.initial_delay_s", self.initial_delay_s, allow_zero=True)
        _positive("RetryPolicy.max_delay_s", self.max_delay_s, allow_zero=True)
        _positive("RetryPolicy.deadline_s", self.deadline_s)
        _positive("RetryPolicy.max_retry_after_s", self.max_retry_after_s, allow_zero=True)
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float):
            raise UsageError(f"RetryPolicy.multiplier must be a number, got {self.multiplier!r}")
        if self.multiplier < 1:
            raise UsageError(f"RetryPolicy.multiplier must be >= 1, got {self.multiplier!r}")
        if self.retry_on is not None and not callable(self.retry_on):
            raise UsageError("RetryPolicy.retry_on must be a callable (exception) -> bool")

    @classmethod
    def never(cls, *, deadline_s: float | None = 60.0) -> RetryPolicy:
        """A policy that makes exactly one attempt (still under ``deadline_s`` seconds)."""
        return cls(max_attempts=1, deadline_s=deadline_s)

    def backoff_s(self, attempt: int) -> float:
        """The computed (un-jittered) delay after failed attempt ``attempt`` (1-based), seconds."""
        exponent = min(attempt - 1, 64)  # no float overflow for absurd attempt counts
        return float(min(self.max_delay_s, self.initial_delay_s * self.multiplier**exponent))


@dataclass(frozen=True, slots=True)
class RetryBudgetPolicy:
    """A retry budget: a token bucket shared by every call of one client (gRPC proposal A6).

    The bucket starts full at ``max_tokens``. Each failed attempt that the client classifies
    as retryable takes one token; each success adds ``token_ratio`` (up to ``max_tokens``).
    A retry is allowed only while more than half of ``max_tokens`` remain. When every call
    fails, retrying stops after about ``max_tokens / 2`` failures, so total attempts stay
    close to the number of calls (about 1.05x for 100 calls with ``max_attempts=4``, where
    naive retrying makes 4x). A healthy client keeps a full bucket.

    Args:
        max_tokens: the bucket size (> 0); A6 allows 0 < max_tokens <= 1000.
        token_ratio: tokens returned per success (> 0); A6 uses 0.1 by example.
    """

    max_tokens: float = 10.0
    token_ratio: float = 0.1

    def __post_init__(self) -> None:
        _positive("RetryBudgetPolicy.max_tokens", self.max_tokens)
        _positive("RetryBudgetPolicy.token_ratio", self.token_ratio)


BreakerClassifier = Callable[[BaseException], bool]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a circuit breaker opens, how long it stays open, and how it closes again.

    Closed: calls pass; failures are counted. It opens when ``failure_threshold``
    consecutive failures happen or, in failure-rate mode, when at least ``minimum_calls`` of
    the last ``window_size`` calls have finished and at least ``failure_rate`` of them
    failed (resilience4j's count-based sliding window). Open: calls fail at once with
    :class:`~syncclients.errors.CircuitOpenError` for ``recovery_timeout_s`` seconds. Then
    half-open: at most ``half_open_max_calls`` probes run at the same time (the rest are
    rejected); ``success_threshold`` successful probes close it, any failed probe reopens it.

    Args:
        failure_threshold: consecutive failures that open the breaker (>= 1); None disables
            this trigger (then ``failure_rate`` must be set).
        failure_rate: a fraction in (0, 1]; None disables failure-rate mode.
        window_size: how many of the most recent calls the failure rate is computed over.
        minimum_calls: calls needed in the window before the rate is judged (<= window_size).
        recovery_timeout_s: seconds the breaker stays open before admitting probes; 0 is
            honoured (the next call after opening is a probe).
        half_open_max_calls: concurrent probes admitted while half-open (>= 1).
        success_threshold: successful probes needed to close (>= 1).
        is_failure: which exceptions count as failures, ``(exception) -> bool``. None: the
            client's default (for HTTP: transport errors, 408, 429 and 5xx; never a
            UsageError). An exception that does not count is treated as a success: the
            target answered.
    """

    failure_threshold: int | None = 5
    failure_rate: float | None = None
    window_size: int = 100
    minimum_calls: int = 100
    recovery_timeout_s: float = 30.0
    half_open_max_calls: int = 1
    success_threshold: int = 1
    is_failure: BreakerClassifier | None = None

    def __post_init__(self) -> None:
        if self.failure_threshold is not None:
            _count("BreakerPolicy.failure_threshold", self.failure_threshold)
        if self.failure_rate is not None:
            rate = self.failure_rate
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
                raise UsageError(f"BreakerPolicy.failure_rate must be in (0, 1], got {rate!r}")
        if self.failure_threshold is None and self.failure_rate is None:
            raise UsageError("BreakerPolicy needs failure_threshold or failure_rate (or both)")
        _count("BreakerPolicy.window_size", self.window_size)
        _count("BreakerPolicy.minimum_calls", self.minimum_calls)
        if self.minimum_calls > self.window_size:
            raise UsageError(
                f"BreakerPolicy.minimum_calls ({self.minimum_calls}) must be <= "
                f"window_size ({self.window_size})"
            )
        _positive("BreakerPolicy.recovery_timeout_s", self.recovery_timeout_s, allow_zero=True)
        _count("BreakerPolicy.half_open_max_calls", self.half_open_max_calls)
        _count("BreakerPolicy.success_threshold", self.success_threshold)
        if self.is_failure is not None and not callable(self.is_failure):
            raise UsageError("BreakerPolicy.is_failure must be a callable (exception) -> bool")


BreakerStateName = Literal["closed", "open", "half_open"]
