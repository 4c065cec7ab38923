"""An audit record per tool execution of an :class:`~syncclients.mcp.group.MCPGroup`.

Each ``tools/call`` the group routes (``call_tool``, ``call_qualified``, ``call_batch``) and
each call its permissions refuse produces one frozen :class:`AuditRecord`, handed to the
group's audit hooks on the calling thread, the way attempt records reach the resilience
hooks (:mod:`syncclients.resilience.hooks`): a hook that raises is logged and skipped.
The default hook, :class:`AuditLoggingHook`, logs at INFO on ``syncclients.mcp.audit`` with
namespaced ``extra`` keys (``syncclients.server``, ``syncclients.tool``, ...).

Arguments are recorded with secrets hidden (:func:`redact_arguments`): the value of every
key with a secret-looking name (``password``, ``api_key``, ``token``, ... see
:func:`syncclients.redact.is_secret_name`) becomes ``***``, and secrets inside strings
(URL userinfo, ``token=...`` pairs, ``Authorization`` values) are masked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..redact import MASK, is_secret_name, redact_text

__all__ = ["AuditHook", "AuditLoggingHook", "AuditRecord", "emit_audit", "redact_arguments"]

_log = logging.getLogger("syncclients.mcp.audit")

#: ``"success"``: a result that is not ``isError``; ``"tool_error"``: an ``isError`` result;
#: ``"failure"``: the call raised; ``"denied"``: the group's permissions refused it (nothing
#: was sent).
AuditOutcome = Literal["success", "tool_error", "failure", "denied"]

#: Deepest nesting of arguments recorded; deeper values become ``"..."``.
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One tool execution.

    Attributes:
        server: the server's name in the group.
        tool: the tool's name on that server.
        arguments: the arguments, secrets hidden (:func:`redact_arguments`).
        outcome: see :data:`AuditOutcome`.
        error: ``"ExceptionType: first line"`` of a failed or denied call (secrets hidden),
            else None.
        duration_s: how long the call took (retries included), in seconds; 0 when denied.
        caller: the caller's identity as given to the call (``caller=``), else None.
        started_at: when the call started, in seconds since the epoch (``time.time()``).
    """

    server: str
    tool: str
    arguments: Mapping[str, Any] = field(repr=True)
    outcome: AuditOutcome
    error: str | None
    duration_s: float
    caller: str | None
    started_at: float


class AuditHook(Protocol):
    """Receives one :class:`AuditRecord` per tool execution, on the calling thread."""

    def __call__(self, record: AuditRecord) -> None: ...


def _redact(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {
            str(k): MASK if is_secret_name(str(k)) else _redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_arguments(arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of tool arguments fit for an audit log.

    Args:
        arguments: the call's arguments; None: ``{}``.

    Returns:
        A new dict: values under secret-looking keys (at any depth) are ``"***"``, strings
        have embedded secrets masked, nesting deeper than 8 levels is cut to ``"..."``.
    """
    redacted = _redact(dict(arguments or {}), 0)
    assert isinstance(redacted, dict)
    return redacted


class AuditLoggingHook:
    """Logs each :class:`AuditRecord` at INFO (denied calls at WARNING).

    Args:
        logger: the logger; default ``syncclients.mcp.audit``.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or _log

    def __call__(self, record: AuditRecord) -> None:
        level = logging.WARNING if record.outcome == "denied" else logging.INFO
        if not self._logger.isEnabledFor(level):
            return
        self._logger.log(
            level,
            "%s/%s %s in %.3f s (caller %s)%s",
            record.server,
            record.tool,
            record.outcome,
            record.duration_s,
            record.caller or "-",
            f": {record.error}" if record.error else "",
            extra={
                "syncclients.server": record.server,
                "syncclients.tool": record.tool,
                "syncclients.arguments": record.arguments,
                "syncclients.outcome": record.outcome,
                "syncclients.error": record.error,
                "syncclients.duration_s": record.duration_s,
                "syncclients.caller": record.caller,
            },
        )


def emit_audit(hooks: Sequence[AuditHook], record: AuditRecord) -> None:
    """Call every hook with ``record``; a hook that raises is logged and skipped."""
    for hook in hooks:
        try:
            hook(record)
        except Exception:  # auditing must never break a call
            _log.exception("syncclients audit hook %r raised; ignored", hook)


def one_line(exc: BaseException | None) -> str | None:
    """``"Type: first line"`` of an exception, secrets hidden; None for None."""
    if exc is None:
        return None
    text = str(exc).splitlines()[0] if str(exc) else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return redact_text(line)


class AuditTimer:
    """Measures one call: wall-clock start and monotonic duration."""

    __slots__ = ("_t0", "started_at")

    def __init__(self) -> None:
        self.started_at = time.time()
        self._t0 = time.monotonic()

    def elapsed_s(self) -> float:
        """Seconds since creation."""
        return time.monotonic() - self._t0
