"""Connect policy of :class:`~syncclients.mcp.client.MCPClient`: one shared handshake, and
crash-restart pacing.

- :class:`Handshake`: the one connect in progress. The first caller that finds no live
  session runs the handshake; callers arriving meanwhile wait on it, each with its own
  bound (connect timeout and deadline), instead of queueing behind one another on a lock.
- :class:`RestartPacer`: when a stdio server keeps crashing, restarts are spaced by an
  exponential backoff (0, 0.5, 1, 2, ... up to 30 s between consecutive restarts); a server
  that stayed up for :data:`STABLE_UPTIME_S` resets it. Restarts also happen only on calls
  the circuit breaker admits, so an open breaker stops them until its half-open probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import ConnectTimeout, DeadlineExceeded

__all__ = [
    "RESTART_BACKOFF_INITIAL_S",
    "RESTART_BACKOFF_MAX_S",
    "STABLE_UPTIME_S",
    "Handshake",
    "RestartPacer",
    "connect_bound",
]

S = TypeVar("S")

#: Seconds before the second consecutive crash-restart (doubled for each further one).
RESTART_BACKOFF_INITIAL_S = 0.5
#: The longest wait between consecutive crash-restarts, in seconds.
RESTART_BACKOFF_MAX_S = 30.0
#: A server that ran at least this long before it was lost resets the backoff, in seconds.
STABLE_UPTIME_S = 30.0


def connect_bound(
    connect_s: float | None, remaining_s: float | None, *, target: str
) -> float | None:
    """The most seconds one caller may spend connecting.

    Args:
        connect_s: the client's connect timeout in seconds; None: no limit.
        remaining_s: what is left of the call's deadline in seconds; None: no deadline.
        target: the server name for errors.

    Returns:
        ``min(connect_s, remaining_s)`` (None when both are None); always > 0.

    Raises:
        DeadlineExceeded: the call's deadline has already run out (nothing is started).
    """
    if remaining_s is not None and remaining_s <= 0:
        raise DeadlineExceeded(
            f"{target}: the call's deadline ran out before connecting", timeout_s=0.0, target=target
        )
    if remaining_s is None:
        return connect_s
    return remaining_s if connect_s is None else min(connect_s, remaining_s)


class Handshake(Generic[S]):
    """One connect in progress, shared by every caller that needs a session meanwhile.

    The caller that created it runs the handshake and calls :meth:`finish`; others call
    :meth:`wait`.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self.session: S | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()

    def finish(self, session: S | None, error: BaseException | None) -> None:
        """Publish the outcome (a session, or the error the handshake raised)."""
        self.session = session
        self.error = error
        self._done.set()

    def wait(self, bound_s: float | None, *, target: str) -> None:
        """Wait for the outcome at most ``bound_s`` seconds (None: no limit).

        Raises:
            ConnectTimeout: the handshake did not finish within ``bound_s``.
        """
        if self._done.wait(bound_s):
            return
        raise ConnectTimeout(
            f"{target}: not connected within {bound_s:.3f} s (the MCP handshake another "
            f"call started {time.monotonic() - self.started:.3f} s ago has not finished)",
            timeout_s=bound_s,
            target=target,
        )


class RestartPacer:
    """Spaces the restarts of a server that keeps crashing. Thread-safe.

    Args:
        initial_s: the wait before the second consecutive restart, in seconds.
        max_s: the longest wait between consecutive restarts, in seconds.
        stable_uptime_s: a server that ran this long before it was lost resets the count.
        clock: the monotonic clock, in seconds.
    """

    def __init__(
        self,
        *,
        initial_s: float = RESTART_BACKOFF_INITIAL_S,
        max_s: float = RESTART_BACKOFF_MAX_S,
        stable_uptime_s: float = STABLE_UPTIME_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.stable_uptime_s = stable_uptime_s
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._last_restart = 0.0

    @property
    def consecutive(self) -> int:
        """Restarts since the server last stayed up for ``stable_uptime_s``."""
        return self._consecutive

    def wait_s(self, uptime_s: float) -> float:
        """Seconds until a restart is allowed (0: now).

        Args:
            uptime_s: how long the lost server ran, in seconds.
        """
        with self._lock:
            if uptime_s >= self.stable_uptime_s:
                self._consecutive = 0
            if self._consecutive == 0:
                return 0.0
            delay: float = min(self.max_s, self.initial_s * 2.0 ** (self._consecutive - 1))
            return max(0.0, self._last_restart + delay - self._clock())

    def restarted(self) -> None:
        """Record a restart (made now)."""
        with self._lock:
            self._consecutive += 1
            self._last_restart = self._clock()
