"""Call instrumentation: a frozen record per attempt, handed to hooks.

A hook is any callable taking an :class:`AttemptRecord`. The default, :class:`LoggingHook`,
logs through stdlib :mod:`logging` (logger ``syncclients.resilience``) with namespaced
``extra`` keys (``syncclients.target``, ``syncclients.attempt``, ...), so a formatter can use
``%(syncclients.target)s``. A hook that raises is logged and ignored: instrumentation never
breaks a call.

Levels of the default hook (quiet enough for a web app at WARNING): successes, client errors
(4xx other than 408/429, JSON-RPC errors, non-retryable gRPC statuses such as NOT_FOUND) and
open-circuit rejections at DEBUG; failed attempts that will be retried at INFO; exhausted
retries, other final failures and breaker state transitions at WARNING.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..errors import GRPCStatusError, HTTPStatusError, MCPError, UsageError
from ..redact import redact_text

__all__ = ["AttemptRecord", "Hook", "LoggingHook", "emit", "is_client_error"]

_log = logging.getLogger("syncclients.resilience")

Outcome = Literal["success", "failure", "rejected"]
GiveUpReason = Literal[
    "not_retryable", "max_attempts", "budget_exhausted", "deadline", "retry_after_too_long"
]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What happened in one attempt of a call.

    Attributes:
        target: what was called (base URL, gRPC target, MCP server name).
        operation: the operation within the target (``"GET /items"``, a method name).
        attempt: 1 for the first attempt, 2 for the first retry, ...
        outcome: ``"success"``; ``"failure"`` (the attempt raised); ``"rejected"`` (the
            breaker refused it; nothing was sent).
        error: the exception of a failed or rejected attempt, else None.
        duration_s: how long the attempt took, in seconds.
        will_retry: True when another attempt follows.
        delay_s: the sleep before the next attempt, in seconds (None when none follows).
        give_up_reason: why no attempt follows a failure (None on success or retry).
        breaker_state: the breaker's state after the attempt (None without a breaker).
    """

    target: str
    operation: str
    attempt: int
    outcome: Outcome
    error: BaseException | None
    duration_s: float
    will_retry: bool
    delay_s: float | None
    give_up_reason: GiveUpReason | None
    breaker_state: str | None


class Hook(Protocol):
    """Receives one :class:`AttemptRecord` per attempt, on the calling thread."""

    def __call__(self, record: AttemptRecord) -> None: ...


#: gRPC statuses that say the request was wrong, not that the service is unwell.
_GRPC_CLIENT_CODES = frozenset(
    {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
    }
)


def is_client_error(error: BaseException | None) -> bool:
    """True for a failure the caller caused and the service answered normally.

    An HTTP 4xx other than 408 and 429 (RFC 9110 section 15.5), a JSON-RPC error answer
    (the MCP server is alive), a gRPC status that names a bad request, or a
    :class:`~syncclients.errors.UsageError`.
    """
    if isinstance(error, HTTPStatusError):
        return 400 <= error.status_code < 500 and error.status_code not in (408, 429)
    if isinstance(error, GRPCStatusError):
        return getattr(error.code, "name", None) in _GRPC_CLIENT_CODES
    return isinstance(error, MCPError | UsageError)


class LoggingHook:
    """Logs attempts at levels a web app can leave on.

    DEBUG: successes, client errors (:func:`is_client_error`) and rejections by the open
    breaker (:class:`~syncclients.errors.CircuitOpenError`: the transition that opened it was
    already logged). INFO: failed attempts that will be retried. WARNING: exhausted retries
    (``max_attempts``, budget, deadline, a server delay that does not fit), other final
    failures, and every breaker state transition seen in the records (``closed -> open``,
    ``open -> half_open``, ...), logged once each as ``"<target>: circuit breaker a -> b"``.

    Args:
        logger: the logger to use (default ``syncclients.resilience``).
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or _log
        self._lock = threading.Lock()
        self._breaker_states: dict[str, str] = {}

    def _transition(self, record: AttemptRecord) -> None:
        state = record.breaker_state
        if state is None:
            return
        with self._lock:
            before = self._breaker_states.get(record.target, "closed")
            self._breaker_states[record.target] = state
        if before != state:
            self._logger.warning(
                "%s: circuit breaker %s -> %s",
                record.target,
                before,
                state,
                extra={
                    "syncclients.target": record.target,
                    "syncclients.breaker_state": state,
                    "syncclients.breaker_previous_state": before,
                },
            )

    def __call__(self, record: AttemptRecord) -> None:
        self._transition(record)
        if record.outcome == "success" or record.outcome == "rejected":
            level = logging.DEBUG
        elif record.will_retry:
            level = logging.INFO
        elif record.give_up_reason == "not_retryable" and is_client_error(record.error):
            level = logging.DEBUG
        else:
            level = logging.WARNING
        if not self._logger.isEnabledFor(level):
            return
        error = (
            redact_text(f"{type(record.error).__name__}: {record.error}") if record.error else ""
        )
        extra = {
            "syncclients.target": record.target,
            "syncclients.operation": record.operation,
            "syncclients.attempt": record.attempt,
            "syncclients.outcome": record.outcome,
            "syncclients.duration_s": record.duration_s,
            "syncclients.will_retry": record.will_retry,
            "syncclients.delay_s": record.delay_s,
            "syncclients.give_up_reason": record.give_up_reason,
            "syncclients.breaker_state": record.breaker_state,
            "syncclients.error": error,
        }
        if record.will_retry:
            msg = "%s %s attempt %d failed (%s); retrying in %.3f s"
            args: tuple[object, ...] = (
                record.target,
                record.operation,
                record.attempt,
                error,
                record.delay_s or 0.0,
            )
        elif record.outcome == "success":
            msg, args = (
                "%s %s attempt %d succeeded in %.3f s",
                (record.target, record.operation, record.attempt, record.duration_s),
            )
        else:
            msg = "%s %s attempt %d %s (%s); giving up: %s"
            args = (
                record.target,
                record.operation,
                record.attempt,
                record.outcome,
                error,
                record.give_up_reason or "final",
            )
        self._logger.log(level, msg, *args, extra=extra)


def emit(hooks: Sequence[Hook], record: AttemptRecord) -> None:
    """Call every hook with ``record``; a hook that raises is logged and skipped."""
    for hook in hooks:
        try:
            hook(record)
        except Exception:  # instrumentation must never break a call
            _log.exception("syncclients hook %r raised; ignored", hook)
