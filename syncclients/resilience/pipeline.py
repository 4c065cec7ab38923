"""The one place where the order of the resilience layers is fixed.

    caller -> deadline -> budgeted retry -> circuit breaker -> attempt (transport)

Retry wraps the breaker, so a breaker rejection (:class:`~syncclients.errors.CircuitOpenError`)
is seen by the retry layer, which treats it as final. Every attempt's timeouts are capped at
what remains of the call's deadline. Clients (HTTP, gRPC, MCP) build one :class:`Resilience`
each and pass their own classification of failures: this layer knows nothing of protocols.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..config import USE_CLIENT_DEFAULT, RetryPolicy, UseClientDefault
from ..errors import CircuitOpenError, DeadlineExceeded, Timeout, UsageError
from .breaker import CircuitBreaker
from .budget import RetryBudget
from .hooks import AttemptRecord, GiveUpReason, Hook, LoggingHook, Outcome, emit
from .plugins import (
    AttemptScope,
    CallScope,
    ClientInfo,
    Plugin,
    active_plugins,
    guarded,
    running,
    scoped,
)
from .retry import RetryEvents, retry_call

__all__ = ["AttemptContext", "Resilience", "server_delay_hint"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """What an attempt needs to know about the call it belongs to.

    Attributes:
        attempt: 1 for the first attempt, 2 for the first retry, ...
        deadline: the monotonic instant the whole call must end by, or None.
        clock: the monotonic clock of ``deadline``.
    """

    attempt: int
    deadline: float | None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def remaining_s(self) -> float | None:
        """Seconds left before the call's deadline (may be <= 0), or None without one."""
        return None if self.deadline is None else self.deadline - self.clock()


def server_delay_hint(exc: BaseException) -> float | None:
    """The server-given delay an error carries (``.retry_after`` in seconds), or None."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(slots=True)
class _CallState(Generic[T]):
    attempt: int = 0
    started: float = 0.0
    duration_s: float = 0.0


class Resilience:
    """Deadline, budgeted retry and circuit breaker for one client/target, in that order.

    Args:
        target: the name used in records and errors (a base URL, a server name).
        retry: the default retry policy of the client.
        breaker: the client's breaker (one per target), or None for none.
        budget: the client's retry budget, or None for none.
        hooks: called with one :class:`AttemptRecord` per attempt; default a
            :class:`LoggingHook`.
        clock: the monotonic clock, in seconds.
        protocol: ``"http"``, ``"mcp"``, ``"grpc"``, ``"llm"`` for plugins (None: unsaid).

    Plugins (:class:`~syncclients.resilience.plugins.Plugin`) among ``hooks`` and the
    process-wide ones are set up on first use, wrap each call and attempt, and are torn
    down by :meth:`close`.

    Thread-safe: it holds only shared, thread-safe collaborators; per-call state is local.
    """

    def __init__(
        self,
        *,
        target: str,
        retry: RetryPolicy,
        breaker: CircuitBreaker | None,
        budget: RetryBudget | None,
        hooks: Sequence[Hook] | None = None,
        clock: Callable[[], float] = time.monotonic,
        protocol: str | None = None,
    ) -> None:
        self.target = target
        self.retry = retry
        self.breaker = breaker
        self.budget = budget
        self.hooks: tuple[Hook, ...] = tuple(hooks) if hooks is not None else (LoggingHook(),)
        self._clock = clock
        self.info = ClientInfo(target=target, protocol=protocol)
        self._own_plugins = tuple(h for h in self.hooks if isinstance(h, Plugin))
        self._set_up: list[Plugin] = []
        self._plugin_lock = threading.Lock()

    def _plugins(self) -> tuple[Plugin, ...]:
        """The plugins of this call (own, then process-wide), each set up once."""
        shared = active_plugins()
        plugins = self._own_plugins + tuple(p for p in shared if p not in self._own_plugins)
        if plugins and any(p not in self._set_up for p in plugins):
            with self._plugin_lock:
                for plugin in plugins:
                    if plugin not in self._set_up:
                        self._set_up.append(plugin)
                        guarded(plugin, "setup", plugin.setup, self.info)
        return plugins

    def close(self) -> None:
        """Tear down the plugins set up for this pipeline (the client is closing). Idempotent."""
        with self._plugin_lock:
            plugins, self._set_up = self._set_up, []
        for plugin in plugins:
            guarded(plugin, "teardown", plugin.teardown, self.info)

    def call(
        self,
        fn: Callable[[AttemptContext], T],
        *,
        operation: str,
        retryable: Callable[[BaseException], bool],
        delay_hint: Callable[[BaseException], float | None] = server_delay_hint,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> T:
        """Run ``fn`` under the deadline, budgeted retry and breaker, and return its result.

        Args:
            fn: one attempt; receives an :class:`AttemptContext` and must cap its own
                timeouts at ``ctx.remaining_s()``.
            operation: a short label for records (``"GET /items"``).
            retryable: the client's safety classification: may this failure be retried?
            delay_hint: a server-given delay carried by a failure, in seconds, or None.
            retry: a per-call retry policy; default the client's.
            deadline_s: a per-call overall deadline in seconds; None: no deadline; default
                the retry policy's ``deadline_s``.

        Returns:
            What ``fn`` returned on the first successful attempt.

        Raises:
            CircuitOpenError: the breaker refused the call (never retried).
            DeadlineExceeded: the deadline ran out during an attempt (cause: its error).
            SyncClientsError: the last attempt's error when retrying stopped.
            UsageError: a programming error (never retried).
        """
        policy = self.retry if isinstance(retry, UseClientDefault) else retry
        budget_s = policy.deadline_s if isinstance(deadline_s, UseClientDefault) else deadline_s
        clock = self._clock
        deadline = None if budget_s is None else clock() + budget_s
        state: _CallState[T] = _CallState()
        plugins = self._plugins()
        shared = tuple(p for p in plugins if p not in self.hooks)  # own ones are hooks
        call_scope = CallScope(self.info, operation) if plugins else None

        def attempt() -> T:
            if call_scope is None:
                return bare_attempt()
            scope = AttemptScope(call_scope, state.attempt + 1)
            with running(scope), scoped(plugins, "attempt", scope):
                try:
                    result = bare_attempt()
                except BaseException as exc:
                    scope.error = exc
                    raise
                scope.result = result
            return result

        def bare_attempt() -> T:
            state.attempt += 1
            state.started = clock()
            ctx = AttemptContext(state.attempt, deadline, clock)
            try:
                result = fn(ctx) if self.breaker is None else self.breaker.call(fn, ctx)
            except Timeout as exc:
                state.duration_s = clock() - state.started
                self._count_budget(exc, retryable)
                if (
                    deadline is not None
                    and clock() >= deadline
                    and not isinstance(exc, DeadlineExceeded)
                ):
                    raise DeadlineExceeded(
                        f"{self.target} {operation}: deadline of {budget_s:.3f} s exceeded "
                        f"after {state.attempt} attempt(s)",
                        timeout_s=budget_s,
                        target=self.target,
                    ) from exc
                raise
            except Exception as exc:
                state.duration_s = clock() - state.started
                self._count_budget(exc, retryable)
                raise
            state.duration_s = clock() - state.started
            if self.budget is not None:
                self.budget.record_success()
            return result

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, CircuitOpenError | UsageError | DeadlineExceeded):
                return False
            if not retryable(exc):
                return False
            return policy.retry_on is None or bool(policy.retry_on(exc))

        def record(
            outcome: Outcome,
            error: BaseException | None,
            delay_s: float | None,
            reason: GiveUpReason | None,
        ) -> None:
            if not self.hooks and not shared:
                return
            rec = AttemptRecord(
                target=self.target,
                operation=operation,
                attempt=state.attempt,
                outcome=outcome,
                error=error,
                duration_s=state.duration_s,
                will_retry=delay_s is not None,
                delay_s=delay_s,
                give_up_reason=reason,
                breaker_state=self.breaker.state if self.breaker is not None else None,
            )
            emit(self.hooks, rec)
            for plugin in shared:
                guarded(plugin, "on_record", plugin.on_record, rec)

        def on_give_up(exc: BaseException, reason: GiveUpReason) -> None:
            if isinstance(exc, CircuitOpenError):
                record("rejected", exc, None, None)
            else:
                if isinstance(exc, DeadlineExceeded):
                    reason = "deadline"
                record("failure", exc, None, reason)

        events = RetryEvents(
            on_retry=lambda exc, delay: record("failure", exc, delay, None),
            on_give_up=on_give_up,
            on_success=lambda: record("success", None, None, None),
        )

        def run() -> T:
            return retry_call(
                attempt,
                policy=policy,
                should_retry=should_retry,
                delay_hint=delay_hint,
                deadline=deadline,
                clock=clock,
                budget=self.budget,
                events=events,
            )

        if call_scope is None:
            return run()
        with scoped(plugins, "call", call_scope):
            try:
                call_scope.result = result = run()
            except BaseException as exc:
                call_scope.error = exc
                raise
        return result

    def _count_budget(self, exc: BaseException, retryable: Callable[[BaseException], bool]) -> None:
        if self.budget is None or isinstance(exc, CircuitOpenError | UsageError):
            return
        if retryable(exc):
            self.budget.record_failure()
