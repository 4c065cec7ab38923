"""A thread-safe circuit breaker, built on the ``circuitbreaker`` package.

:class:`CircuitBreaker` subclasses :class:`circuitbreaker.CircuitBreaker` (its failure
predicate construction, naming and error type) and replaces the parts that package gets
wrong for shared clients (see shared/docs/dependencies.md):

- every transition happens under one lock; state is per breaker object (make one per
  client/target), never per decorated function, and nothing is registered process-wide;
- half-open is an explicit state admitting at most ``half_open_max_calls`` concurrent probes
  (the rest get :class:`~syncclients.errors.CircuitOpenError`), and ``success_threshold``
  successful probes close it;
- an optional failure-rate mode over a count-based sliding window (as resilience4j);
- zero values are honoured (``recovery_timeout_s=0``), invalid ones rejected, none replaced;
- the open check runs in :meth:`call`, in the decorator and in ``with breaker:`` alike;
- state listeners, and :meth:`info` for a consistent snapshot.

Outcomes are tied to the state period they were admitted in (a generation number): a slow
call admitted while closed that fails after the breaker already opened does not count twice.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import circuitbreaker as _cb

from ..config import BreakerPolicy, BreakerStateName
from ..errors import CircuitOpenError, UsageError

__all__ = ["BreakerInfo", "CircuitBreaker", "Permit", "StateListener"]

P = ParamSpec("P")
T = TypeVar("T")

CLOSED: BreakerStateName = "closed"
OPEN: BreakerStateName = "open"
HALF_OPEN: BreakerStateName = "half_open"

#: ``listener(breaker_name, old_state, new_state)``, called after the transition, outside
#: the lock, on the thread that caused it.
StateListener = Callable[[str, BreakerStateName, BreakerStateName], None]


@dataclass(frozen=True, slots=True)
class BreakerInfo:
    """A consistent snapshot of a breaker.

    Attributes:
        name: the breaker's name.
        state: ``"closed"``, ``"open"`` or ``"half_open"``.
        consecutive_failures: failures since the last success (closed state).
        window_calls: outcomes in the failure-rate window (0 when that mode is off).
        window_failures: failures among them.
        failure_rate: ``window_failures / window_calls`` (0.0 when the window is empty).
        opened_at: wall-clock time (``time.time()``) the breaker last opened, or None.
        remaining_s: seconds until probes are admitted (0.0 unless open).
        half_open_in_flight: probes running now.
        half_open_successes: successful probes in the current half-open period.
    """

    name: str
    state: BreakerStateName
    consecutive_failures: int
    window_calls: int
    window_failures: int
    failure_rate: float
    opened_at: float | None
    remaining_s: float
    half_open_in_flight: int
    half_open_successes: int


@dataclass(frozen=True, slots=True)
class Permit:
    """Admission to run one call, returned by :meth:`CircuitBreaker.acquire`."""

    generation: int
    probe: bool


def _default_is_failure(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not isinstance(exc, UsageError)


class CircuitBreaker(_cb.CircuitBreaker):  # type: ignore[misc]  # circuitbreaker is untyped
    """A circuit breaker for one target, safe to share between threads.

    Args:
        policy: thresholds and timings (see :class:`~syncclients.config.BreakerPolicy`).
        name: a name for errors, logs and metrics (one breaker per client/target).
        is_failure: the client's default ``(exception) -> bool`` for which failures count;
            ``policy.is_failure`` takes precedence. None: every Exception but UsageError.
        clock: a monotonic clock in seconds (for tests).

    Use it as ``breaker.call(fn, *args)``, as a decorator ``@breaker``, as ``with breaker:``,
    or with :meth:`acquire` / :meth:`release` around your own code.
    """

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        *,
        name: str,
        is_failure: Callable[[BaseException], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        classify = self.policy.is_failure or is_failure or _default_is_failure
        super().__init__(
            failure_threshold=self.policy.failure_threshold or 1,  # unused: our logic below
            recovery_timeout=self.policy.recovery_timeout_s or 1,  # unused: our logic below
            expected_exception=lambda _type, exc: classify(exc),
            name=name,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerStateName = CLOSED
        self._generation = 0
        self._consecutive = 0
        self._window: deque[bool] = deque(maxlen=self.policy.window_size)
        self._window_failures = 0
        self._opened_mono: float | None = None
        self._opened_wall: float | None = None
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._listeners: list[StateListener] = []
        self._local = threading.local()

    # -- admission ------------------------------------------------------------------------

    def acquire(self) -> Permit:
        """Admit one call or refuse it.

        Returns:
            A :class:`Permit` to pass to :meth:`release` when the call ends.

        Raises:
            CircuitOpenError: open, or half-open with every probe slot taken.
        """
        events: list[tuple[BreakerStateName, BreakerStateName]] = []
        try:
            with self._lock:
                self._maybe_half_open(events)
                if self._state == OPEN:
                    raise CircuitOpenError(self.name, self._remaining())
                if self._state == HALF_OPEN:
                    if self._probes_in_flight >= self.policy.half_open_max_calls:
                        raise CircuitOpenError(self.name, 0.0)
                    self._probes_in_flight += 1
                    return Permit(self._generation, True)
                return Permit(self._generation, False)
        finally:
            self._notify(events)

    def release(self, permit: Permit, error: BaseException | None = None) -> None:
        """Record the outcome of a call admitted by :meth:`acquire`.

        Args:
            permit: what :meth:`acquire` returned.
            error: the exception the call raised, or None for success. An error the
                classifier does not count is a success; a BaseException that is not an
                Exception (KeyboardInterrupt) counts as neither.
        """
        neutral = error is not None and not isinstance(error, Exception)
        failed = error is not None and not neutral and self.is_failure(type(error), error)
        events: list[tuple[BreakerStateName, BreakerStateName]] = []
        with self._lock:
            current = permit.generation == self._generation
            if permit.probe and current:
                self._probes_in_flight -= 1
            if current and not neutral:
                if failed:
                    self._last_failure = error
                if self._state == CLOSED:
                    self._record_closed(failed, events)
                elif self._state == HALF_OPEN:
                    if failed:
                        self._transition(OPEN, events)
                    else:
                        self._probe_successes += 1
                        if self._probe_successes >= self.policy.success_threshold:
                            self._transition(CLOSED, events)
        self._notify(events)

    # -- ways to use it --------------------------------------------------------------------

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func(*args, **kwargs)`` under the breaker and return its result.

        Raises:
            CircuitOpenError: the call was refused (nothing ran).
            Exception: whatever ``func`` raised, unchanged (after it was counted).
        """
        permit = self.acquire()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self.release(permit, exc)
            raise
        self.release(permit)
        return result

    def decorate(self, function: Callable[P, T]) -> Callable[P, T]:
        """Wrap a plain (synchronous, non-generator) function so every call goes through
        :meth:`call`. The state is this breaker's, whatever function or instance calls.

        Raises:
            UsageError: ``function`` is a coroutine or generator function.
        """
        if inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function):
            raise UsageError("CircuitBreaker.decorate takes plain synchronous functions only")

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(function, *args, **kwargs)

        return wrapper

    def __call__(self, wrapped: Callable[P, T]) -> Callable[P, T]:
        return self.decorate(wrapped)

    def __enter__(self) -> None:
        stack = getattr(self._local, "permits", None)
        if stack is None:
            stack = self._local.permits = []
        stack.append(self.acquire())

    def __exit__(self, exc_type: Any, exc_value: BaseException | None, _tb: Any) -> Literal[False]:
        self.release(self._local.permits.pop(), exc_value)
        return False

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerStateName:
        """``"closed"``, ``"open"`` or ``"half_open"`` (moves open to half-open when due)."""
        events: list[tuple[BreakerStateName, BreakerStateName]] = []
        with self._lock:
            self._maybe_half_open(events)
            state = self._state
        self._notify(events)
        return state

    @property
    def name(self) -> str:
        return str(self._name)

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted in the closed state."""
        return self._consecutive

    @property
    def open_remaining(self) -> float:
        """Seconds until the breaker admits probes (0.0 unless open)."""
        with self._lock:
            return self._remaining()

    def info(self) -> BreakerInfo:
        """A consistent snapshot of the breaker (see :class:`BreakerInfo`)."""
        events: list[tuple[BreakerStateName, BreakerStateName]] = []
        with self._lock:
            self._maybe_half_open(events)
            calls = len(self._window)
            info = BreakerInfo(
                name=self.name,
                state=self._state,
                consecutive_failures=self._consecutive,
                window_calls=calls,
                window_failures=self._window_failures,
                failure_rate=(self._window_failures / calls) if calls else 0.0,
                opened_at=self._opened_wall,
                remaining_s=self._remaining(),
                half_open_in_flight=self._probes_in_flight,
                half_open_successes=self._probe_successes,
            )
        self._notify(events)
        return info

    def reset(self) -> None:
        """Force the breaker closed and clear its counts (an operator's action)."""
        events: list[tuple[BreakerStateName, BreakerStateName]] = []
        with self._lock:
            self._transition(CLOSED, events)
        self._notify(events)

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(name, old_state, new_state)`` after every transition."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state!r})"

    __str__ = __repr__

    # -- internals (called with the lock held) --------------------------------------------

    def _record_closed(
        self, failed: bool, events: list[tuple[BreakerStateName, BreakerStateName]]
    ) -> None:
        policy = self.policy
        self._consecutive = self._consecutive + 1 if failed else 0
        if policy.failure_rate is not None:
            if len(self._window) == self._window.maxlen and self._window[0]:
                self._window_failures -= 1
            self._window.append(failed)
            self._window_failures += failed
        threshold = policy.failure_threshold
        trip = threshold is not None and self._consecutive >= threshold
        if policy.failure_rate is not None and len(self._window) >= policy.minimum_calls:
            trip = trip or self._window_failures / len(self._window) >= policy.failure_rate
        if trip:
            self._transition(OPEN, events)

    def _maybe_half_open(self, events: list[tuple[BreakerStateName, BreakerStateName]]) -> None:
        if self._state == OPEN and self._remaining() <= 0:
            self._transition(HALF_OPEN, events)

    def _remaining(self) -> float:
        if self._state != OPEN or self._opened_mono is None:
            return 0.0
        left = self._opened_mono + self.policy.recovery_timeout_s - self._clock()
        return max(0.0, left)

    def _transition(
        self, new: BreakerStateName, events: list[tuple[BreakerStateName, BreakerStateName]]
    ) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._probes_in_flight = 0
        self._probe_successes = 0
        if new == OPEN:
            self._opened_mono = self._clock()
            self._opened_wall = time.time()
        elif new == CLOSED:
            self._consecutive = 0
            self._window.clear()
            self._window_failures = 0
            self._last_failure = None
        if old != new:
            events.append((old, new))

    def _notify(self, events: list[tuple[BreakerStateName, BreakerStateName]]) -> None:
        if not events:
            return
        listeners = list(self._listeners)
        for old, new in events:
            for listener in listeners:
                try:
                    listener(self.name, old, new)
                except Exception:  # a listener must never break a call
                    logging.getLogger("syncclients.resilience").exception(
                        "breaker listener %r raised; ignored", listener
                    )
