"""A background health monitor for the servers of an :class:`~syncclients.mcp.group.MCPGroup`.

One daemon thread probes every server (``ping``; see :meth:`MCPGroup.health`) each
``interval_s`` seconds, each probe bounded by ``timeout_s``, all servers concurrently. It
keeps each server's last result, a bounded history, and a status:

- ``"unknown"``: not probed yet;
- ``"up"``: the last probe answered;
- ``"down"``: the last probe failed (the server could not start, exited, timed out,
  answered an error, or its breaker is open);
- ``"stopped"``: :meth:`MCPGroup.stop_server` stopped it (not probed).

``on_change`` is called with a :class:`StatusChange` on every status change (on the
monitor's thread; a callback that raises is logged and ignored), e.g. to alert. While the
monitor runs, :meth:`MCPGroup.health` returns its last results without any network call.
Servers added to or removed from the group are picked up at the next round.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..errors import UsageError

if TYPE_CHECKING:
    from .group import MCPGroup, ServerHealth

__all__ = ["HealthMonitor", "ServerStatus", "StatusChange"]

logger = logging.getLogger("syncclients.mcp")

ServerStatus = Literal["unknown", "up", "down", "stopped"]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One server's status changed.

    Attributes:
        server: the server's name.
        previous: the status before (``"unknown"`` for the first probe of a server).
        status: the status now.
        health: the probe that caused it (None for ``"stopped"``).
        at: when, in seconds since the epoch.
    """

    server: str
    previous: ServerStatus
    status: ServerStatus
    health: ServerHealth | None
    at: float


class HealthMonitor:
    """Probes a group's servers in the background. Start it with :meth:`start` (or
    :meth:`MCPGroup.start_monitor`), stop it with :meth:`stop`; thread-safe.

    Args:
        group: the group to watch.
        interval_s: seconds between the starts of two rounds (> 0).
        timeout_s: the most seconds per server and probe (> 0), connection included.
        history: how many results are kept per server (>= 1).
        on_change: called with a :class:`StatusChange` on every status change; None: none.
        clock: wall clock for :attr:`StatusChange.at` (seconds since the epoch).

    Raises:
        UsageError: a non-positive interval or timeout, or history < 1.
    """

    def __init__(
        self,
        group: MCPGroup,
        *,
        interval_s: float = 30.0,
        timeout_s: float = 5.0,
        history: int = 100,
        on_change: Callable[[StatusChange], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for label, value in (("interval_s", interval_s), ("timeout_s", timeout_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise UsageError(f"{label} must be seconds > 0, got {value!r}")
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise UsageError(f"history must be an int >= 1, got {history!r}")
        if on_change is not None and not callable(on_change):
            raise UsageError("on_change must be a callable")
        self.group = group
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s)
        self._history_size = history
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._status: dict[str, ServerStatus] = {}
        self._last: dict[str, ServerHealth] = {}
        self._history: dict[str, collections.deque[ServerHealth]] = {}
        self._stop = threading.Event()
        self._round_done = threading.Condition(self._lock)
        self._rounds = 0
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def start(self) -> HealthMonitor:
        """Start the monitor thread (the first round begins at once).

        Returns:
            This monitor.

        Raises:
            UsageError: it was already started.
        """
        with self._lock:
            if self._thread is not None:
                raise UsageError("a HealthMonitor can be started once")
            self._thread = threading.Thread(target=self._run, name="mcp-health", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the monitor and wait for its thread (a round in progress finishes first).

        Args:
            timeout_s: the most seconds to wait; None: the probe timeout plus 5 s.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s + 5.0 if timeout_s is None else timeout_s)

    def __enter__(self) -> HealthMonitor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- reading -----------------------------------------------------------------------------

    @property
    def rounds(self) -> int:
        """Rounds completed so far."""
        with self._lock:
            return self._rounds

    def wait_rounds(self, count: int, timeout_s: float) -> bool:
        """Wait until at least ``count`` rounds have completed.

        Args:
            count: the number of rounds since start.
            timeout_s: the most seconds to wait.

        Returns:
            True when they have, False on timeout.
        """
        with self._round_done:
            return self._round_done.wait_for(lambda: self._rounds >= count, timeout_s)

    def status(self) -> dict[str, ServerStatus]:
        """Each server's status, in the group's order (``"unknown"`` before its first
        probe)."""
        with self._lock:
            return {s: self._status_of(s) for s in self.group.servers}

    def _status_of(self, server: str) -> ServerStatus:
        if self.group.is_stopped(server):
            return "stopped"
        return self._status.get(server, "unknown")

    def last(self) -> dict[str, ServerHealth]:
        """Each probed server's last result, in the group's order (servers not probed yet
        are missing)."""
        with self._lock:
            return {s: self._last[s] for s in self.group.servers if s in self._last}

    def history(self, server: str) -> list[ServerHealth]:
        """``server``'s last results, oldest first (at most ``history``)."""
        with self._lock:
            return list(self._history.get(server, ()))

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.round()
            except UsageError:  # the group was closed under us
                return
            except Exception:  # never let the monitor die silently
                logger.exception("MCP health monitor round failed")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def round(self) -> list[ServerHealth]:
        """Probe every server that is not stopped once, record the results and report the
        changes (also usable without the thread).

        Returns:
            The results of this round, in the group's order.
        """
        results = self.group.probe(timeout_s=self.timeout_s)
        changes: list[StatusChange] = []
        now = self._clock()
        with self._lock:
            probed = {h.server for h in results}
            for health in results:
                status: ServerStatus = "up" if health.ok else "down"
                if self.group.is_stopped(health.server):  # stopped during the round
                    status = "stopped"
                self._record(health.server, status, health, now, changes)
                self._last[health.server] = health
                self._history.setdefault(
                    health.server, collections.deque(maxlen=self._history_size)
                ).append(health)
            servers = self.group.servers
            for server in servers:
                if server not in probed and self.group.is_stopped(server):
                    self._record(server, "stopped", None, now, changes)
            for gone in set(self._status) - set(servers):
                del self._status[gone]
                self._last.pop(gone, None)
                self._history.pop(gone, None)
            self._rounds += 1
            self._round_done.notify_all()
        for change in changes:
            if change.status == "down" or change.previous == "down":
                logger.warning(
                    "MCP server %r: %s -> %s%s", change.server, change.previous, change.status,
                    f" ({change.health.error})" if change.health and change.health.error else "",
                )  # fmt: skip
            if self._on_change is not None:
                try:
                    self._on_change(change)
                except Exception:
                    logger.exception("health monitor on_change %r raised; ignored", self._on_change)
        return results

    def _record(
        self,
        server: str,
        status: ServerStatus,
        health: ServerHealth | None,
        now: float,
        changes: list[StatusChange],
    ) -> None:
        previous = self._status.get(server, "unknown")
        self._status[server] = status
        if previous != status:
            changes.append(StatusChange(server, previous, status, health, now))
