"""The servers of an :class:`~syncclients.mcp.group.MCPGroup`: added, removed, stopped,
restarted and reloaded at run time without failing calls in flight.

Every call the group routes takes a *lease* on its server's slot (:meth:`ServerRegistry.use`)
for as long as it runs. Replacing or removing a server swaps the slot out at once (new calls
go to the new client, or fail with UsageError for a removed server) and *retires* the old
client on a background thread: it is closed once its last lease is returned, or after
``drain_timeout_s`` at the latest (calls still running then fail with
:class:`~syncclients.errors.ConnectionLostError`). :meth:`ServerRegistry.close` waits for the
retirements (each bounded).

:func:`diff_entries` compares two ``mcpServers`` configurations for
:meth:`MCPGroup.reload`: entries are equal when every field read from the file (after
``${VAR}`` expansion) is equal, so a changed ``env``, ``args``, ``includeTools`` or
``limits`` restarts that server and leaves the others alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import UsageError
from .client import MCPClient
from .config import ServerEntry
from .permissions import ToolPermissions

__all__ = ["DRAIN_TIMEOUT_S", "ReloadResult", "ServerRegistry", "ServerSlot", "diff_entries"]

logger = logging.getLogger("syncclients.mcp")

#: Default longest wait for a retired server's calls in flight before it is closed, in s.
DRAIN_TIMEOUT_S = 30.0


@dataclass(eq=False)
class ServerSlot:
    """One server of a group (internal state; read it through the group).

    Attributes:
        name: the server's name.
        client: its client.
        entry: the ``mcpServers`` entry it was built from, or None (a client given to us).
        permissions: its tool permissions.
        owned: the group closes the client when it is retired or the group closes.
        stopped: :meth:`MCPGroup.stop_server` stopped it; calls fail until it is started.
        inflight: calls running on ``client`` (leases).
    """

    name: str
    client: MCPClient
    entry: ServerEntry | None
    permissions: ToolPermissions
    owned: bool
    stopped: bool = False
    inflight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition, repr=False)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What :meth:`MCPGroup.reload` changed (server names, in configuration order).

    Attributes:
        added: servers new in the configuration (started lazily, like the others).
        removed: servers no longer in it (closed once their calls in flight finished).
        changed: servers whose entry changed (replaced by a new client; the old one is
            closed once its calls in flight finished).
        unchanged: servers left as they were.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def diff_entries(
    current: Mapping[str, ServerEntry | None], new: Mapping[str, ServerEntry]
) -> ReloadResult:
    """Compare the group's entries with a new configuration's.

    Args:
        current: ``{server: entry}``; servers with a None entry (clients given to the
            group) are neither removed nor changed.
        new: the new configuration's entries.

    Returns:
        A :class:`ReloadResult`.
    """
    added = tuple(n for n in new if n not in current)
    removed = tuple(n for n, e in current.items() if e is not None and n not in new)
    changed = tuple(
        n for n, e in new.items() if n in current and current[n] is not None and current[n] != e
    )
    unchanged = tuple(n for n, e in new.items() if n in current and current[n] == e)
    return ReloadResult(added, removed, changed, unchanged)


class ServerRegistry:
    """The group's slots, in configuration order. Thread-safe.

    Args:
        drain_timeout_s: the longest wait for a retired client's calls in flight, in s
            (0: close it at once; its calls in flight fail).

    Raises:
        UsageError: a negative ``drain_timeout_s``.
    """

    def __init__(self, *, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        if (
            isinstance(drain_timeout_s, bool)
            or not isinstance(drain_timeout_s, int | float)
            or drain_timeout_s < 0
        ):
            raise UsageError(f"drain_timeout_s must be seconds >= 0, got {drain_timeout_s!r}")
        self.drain_timeout_s = drain_timeout_s
        self._lock = threading.Lock()
        self._slots: dict[str, ServerSlot] = {}
        self._retiring: list[tuple[threading.Thread, ServerSlot]] = []
        self.closed = False

    # -- reading -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The servers' names, in order."""
        with self._lock:
            return list(self._slots)

    def slots(self) -> list[ServerSlot]:
        """The slots, in order (a snapshot)."""
        with self._lock:
            return list(self._slots.values())

    def get(self, name: str) -> ServerSlot:
        """The slot of ``name``.

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        with self._lock:
            return self._get(name)

    def _get(self, name: str) -> ServerSlot:
        if self.closed:
            raise UsageError("this MCPGroup is closed")
        try:
            return self._slots[name]
        except KeyError:
            raise UsageError(
                f"unknown MCP server {name!r} (known: {', '.join(self._slots) or 'none'})"
            ) from None

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[ServerSlot]:
        """Lease ``name``'s slot for one call: its client is not closed by a reload,
        removal or restart until the lease is returned (or the drain timeout passed).

        Raises:
            UsageError: an unknown, stopped or closed server.
        """
        with self._lock:
            slot = self._get(name)
            if slot.stopped:
                raise UsageError(f"MCP server {name!r} is stopped (start_server() it first)")
            with slot.idle:
                slot.inflight += 1
        try:
            yield slot
        finally:
            with slot.idle:
                slot.inflight -= 1
                if slot.inflight == 0:
                    slot.idle.notify_all()

    # -- changing ----------------------------------------------------------------------------

    def put(self, slot: ServerSlot, *, replace: bool) -> ServerSlot | None:
        """Add ``slot`` (at the end), or replace the slot of the same name in place.

        Returns:
            The replaced slot (to retire), or None.

        Raises:
            UsageError: adding a name that exists, replacing one that does not, or a
                closed group.
        """
        with self._lock:
            if self.closed:
                raise UsageError("this MCPGroup is closed")
            old = self._slots.get(slot.name)
            if replace and old is None:
                raise UsageError(f"unknown MCP server {slot.name!r}")
            if not replace and old is not None:
                raise UsageError(f"MCP server {slot.name!r} is already in the group")
            self._slots[slot.name] = slot
            return old

    def pop(self, name: str) -> ServerSlot:
        """Remove ``name``'s slot (to retire).

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        with self._lock:
            slot = self._get(name)
            del self._slots[name]
            return slot

    def reorder(self, order: list[str]) -> None:
        """Put the named servers first, in this order (the others keep theirs after)."""
        with self._lock:
            first = {n: self._slots[n] for n in order if n in self._slots}
            rest = {n: s for n, s in self._slots.items() if n not in first}
            self._slots = {**first, **rest}

    def retire(self, slot: ServerSlot, *, wait: bool = False) -> None:
        """Close ``slot``'s client (if the group owns it) once its leases are returned or
        ``drain_timeout_s`` passed, on a background thread.

        Args:
            slot: a slot no longer reachable through the registry.
            wait: block until it is closed (bounded by the drain timeout plus the close).
        """
        thread = threading.Thread(
            target=self._drain_and_close, args=(slot,), name=f"mcp-retire-{slot.name}",
            daemon=True,
        )  # fmt: skip
        with self._lock:
            self._retiring = [(t, s) for t, s in self._retiring if t.is_alive()]
            self._retiring.append((thread, slot))
        thread.start()
        if wait:
            thread.join(self.drain_timeout_s + 30.0)

    def _drain_and_close(self, slot: ServerSlot) -> None:
        deadline = time.monotonic() + self.drain_timeout_s
        with slot.idle:
            while slot.inflight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.warning(
                        "MCP server %r: %d call(s) still running after %.1f s; closing it",
                        slot.name, slot.inflight, self.drain_timeout_s,
                    )  # fmt: skip
                    break
                slot.idle.wait(left)
        if slot.owned:
            slot.client.close()

    def close(self) -> None:
        """Mark the registry closed and close every owned client, the retiring ones too (in
        parallel, calls still in flight fail), waiting for each close (bounded). Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            slots = [*self._slots.values(), *(s for _, s in self._retiring)]
            retiring = [t for t, _ in self._retiring]
        threads = [threading.Thread(target=s.client.close, daemon=True) for s in slots if s.owned]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)  # each close is itself bounded (stdio: ~3 grace steps)
        for t in retiring:
            t.join(30)  # its client is closed: the drain ends when the calls fail
