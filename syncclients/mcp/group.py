"""MCPGroup: many MCP servers behind one object, as MCP hosts configure them.

Built from a standard ``mcpServers`` file or mapping (one :class:`MCPClient` per entry,
each with its own breaker and retry budget), it lists every server's tools under
collision-safe, server-qualified names, routes calls, batches ``(server, tool, arguments)``
triples across servers, and reports each server's health.

Servers start lazily, each on its first use: calling one server (``call_tool``, or
``call_qualified`` with a name that can only belong to one server) starts only that server,
and one broken server does not fail a listing of the others (see :meth:`MCPGroup.list_tools`).

Servers can be added, removed, stopped, started, restarted and reloaded from the
configuration at run time without failing calls in flight (:mod:`.registry`); a background
:class:`~syncclients.mcp.monitor.HealthMonitor` keeps each server's status; tools are
filtered by per-server allow and deny lists (:mod:`.permissions`); every tool execution
produces an :class:`~syncclients.mcp.audit.AuditRecord`; a server's
``notifications/tools/list_changed`` drops its cached tools so that the next listing shows
the new ones.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..batch import BatchCall, BatchOutcome, BatchProgress, run_batch
from ..errors import SyncClientsError, ToolNotAllowedError, UsageError
from .audit import (
    AuditHook,
    AuditLoggingHook,
    AuditRecord,
    AuditTimer,
    emit_audit,
    one_line,
    redact_arguments,
)
from .client import MCPClient, tool_failed
from .config import ServerEntry, config_path, load_servers, parse_entry, parse_servers
from .metrics import MCPClientMetrics
from .monitor import HealthMonitor, StatusChange
from .permissions import ToolPermissions
from .registry import DRAIN_TIMEOUT_S, ReloadResult, ServerRegistry, ServerSlot, diff_entries
from .types import CallToolResult, ServerNotification, Tool

__all__ = ["SEPARATOR", "GroupTool", "GroupToolListing", "MCPGroup", "ServerHealth"]

logger = logging.getLogger("syncclients.mcp")

#: Joins a server name and a tool name into a qualified name (``time__get_current_time``);
#: tool names allow only ``[A-Za-z0-9_.-]`` (MCP SEP-986), so LLM-facing names stay valid.
SEPARATOR = "__"


@dataclass(frozen=True, slots=True)
class GroupTool:
    """A tool of one server of the group.

    Attributes:
        server: the server's name (its ``mcpServers`` key).
        name: the qualified name, unique in the group (``server__tool``; a numeric suffix
            ``~2``, ``~3``... is added only when two pairs would collide).
        tool: the tool as the server listed it.
    """

    server: str
    name: str
    tool: Tool


class GroupToolListing(list[GroupTool]):
    """The tools of :meth:`MCPGroup.list_tools`: a list of :class:`GroupTool` that also says
    which servers could not be listed.

    Attributes:
        errors: ``{server: exception}`` for each server whose listing failed and was left
            out (empty when every server answered, and always empty with ``strict=True``).
    """

    def __init__(
        self, tools: Iterable[GroupTool] = (), errors: Mapping[str, BaseException] | None = None
    ) -> None:
        super().__init__(tools)
        self.errors: dict[str, BaseException] = dict(errors or {})


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """One server's health, from :meth:`MCPGroup.health`.

    Attributes:
        server: the server's name.
        ok: True when it answered the probe (``ping``; ``server/discover`` in the modern era).
        latency_s: how long the probe took (connection included on first use), in seconds.
        error: a one-line description of the failure, or None.
        breaker_state: ``"closed"``, ``"open"`` or ``"half_open"``, or None without a breaker.
        protocol_version: the negotiated version, or None when not connected.
    """

    server: str
    ok: bool
    latency_s: float
    error: str | None
    breaker_state: str | None
    protocol_version: str | None


class MCPGroup:
    """A group of MCP servers. Thread-safe; use as a context manager or call :meth:`close`.

    Build it with :meth:`from_config`, :meth:`from_dict` or :meth:`from_clients`.

    Args:
        clients: ``{server_name: MCPClient}``, in the order to report them.
        owned: close the clients in :meth:`close` (True when the group built them).
        permissions: ``{server: ToolPermissions}``; a server named here uses these instead
            of its entry's ``includeTools`` / ``excludeTools``; others allow every tool.
        audit_hooks: receive an :class:`~syncclients.mcp.audit.AuditRecord` per tool
            execution; None: :class:`~syncclients.mcp.audit.AuditLoggingHook` (INFO on
            ``syncclients.mcp.audit``); ``()``: none.
        on_tools_changed: called with a server's name when it sends
            ``notifications/tools/list_changed`` (after its cached tools were dropped), on
            that client's notification thread: do not make blocking calls in it (schedule a
            re-listing instead). Only for servers the group builds from entries.
        drain_timeout_s: the longest wait for a replaced or removed server's calls in
            flight before its client is closed, in seconds.

    Raises:
        UsageError: no clients.
    """

    def __init__(
        self,
        clients: Mapping[str, MCPClient],
        *,
        owned: bool,
        permissions: Mapping[str, ToolPermissions] | None = None,
        audit_hooks: Sequence[AuditHook] | None = None,
        on_tools_changed: Callable[[str], None] | None = None,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        if not clients:
            raise UsageError("an MCPGroup needs at least one server")
        self._setup(permissions, audit_hooks, on_tools_changed, drain_timeout_s, {}, None)
        for name, client in clients.items():
            self._registry.put(
                ServerSlot(name, client, None, self._permissions_for(name, None), owned),
                replace=False,
            )

    def _setup(
        self,
        permissions: Mapping[str, ToolPermissions] | None,
        audit_hooks: Sequence[AuditHook] | None,
        on_tools_changed: Callable[[str], None] | None,
        drain_timeout_s: float,
        client_options: dict[str, Any],
        source: str | os.PathLike[str] | None,
    ) -> None:
        if on_tools_changed is not None and not callable(on_tools_changed):
            raise UsageError("on_tools_changed must be a callable")
        self._registry = ServerRegistry(drain_timeout_s=drain_timeout_s)
        self._lock = threading.Lock()
        self._qualified: dict[str, tuple[str, str]] = {}
        self._permissions = dict(permissions or {})
        self._audit_hooks: tuple[AuditHook, ...] = (
            (AuditLoggingHook(),) if audit_hooks is None else tuple(audit_hooks)
        )
        self._on_tools_changed = on_tools_changed
        self._client_options = client_options
        self._source = source
        self._monitor: HealthMonitor | None = None
        self._manage = threading.Lock()  # one run-time change (add, reload, ...) at a time
        self._tools_versions: dict[str, int] = {}
        self._names: tuple[str, ...] | None = None  # from_config(names=...): reload those
        #: Errors of the servers left out by the last non-strict :meth:`list_tools` (the
        #: same as its result's ``errors``; prefer that one when several threads list).
        self.listing_errors: dict[str, BaseException] = {}

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        names: Iterable[str] | None = None,
        permissions: Mapping[str, ToolPermissions] | None = None,
        audit_hooks: Sequence[AuditHook] | None = None,
        on_tools_changed: Callable[[str], None] | None = None,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        **client_options: Any,
    ) -> MCPGroup:
        """A group of the servers of an ``mcpServers`` JSON file.

        Args:
            path: the file; None: ``$MCP_CONFIG``, else ``./.mcp.json``. :meth:`reload`
                reads it again.
            names: only these servers (in this order); None: all, in file order.
            permissions, audit_hooks, on_tools_changed, drain_timeout_s: see
                :class:`MCPGroup`.
            **client_options: :class:`MCPClient` keywords applied to every server.

        Raises:
            UsageError: a missing or malformed file, or an unknown name.
        """
        group_options = (permissions, audit_hooks, on_tools_changed, drain_timeout_s)
        source = config_path(path)
        return cls._build(load_servers(source), names, client_options, group_options, source)

    @classmethod
    def from_dict(
        cls,
        config: Mapping[str, Any],
        *,
        names: Iterable[str] | None = None,
        permissions: Mapping[str, ToolPermissions] | None = None,
        audit_hooks: Sequence[AuditHook] | None = None,
        on_tools_changed: Callable[[str], None] | None = None,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        **client_options: Any,
    ) -> MCPGroup:
        """A group from an ``mcpServers`` mapping (``{"mcpServers": {...}}`` or the inner one).

        Args: as :meth:`from_config`.

        Raises:
            UsageError: a malformed entry or an unknown name.
        """
        group_options = (permissions, audit_hooks, on_tools_changed, drain_timeout_s)
        return cls._build(parse_servers(config), names, client_options, group_options, None)

    @classmethod
    def from_clients(
        cls,
        clients: Mapping[str, MCPClient],
        *,
        owned: bool = False,
        permissions: Mapping[str, ToolPermissions] | None = None,
        audit_hooks: Sequence[AuditHook] | None = None,
    ) -> MCPGroup:
        """A group over clients you built; they are closed by :meth:`close` only if ``owned``.
        Such servers cannot be stopped or restarted by the group (it cannot rebuild them)."""
        return cls(clients, owned=owned, permissions=permissions, audit_hooks=audit_hooks)

    @classmethod
    def _build(
        cls,
        entries: Mapping[str, ServerEntry],
        names: Iterable[str] | None,
        options: dict[str, Any],
        group_options: tuple[Any, Any, Any, float],
        source: str | os.PathLike[str] | None,
    ) -> MCPGroup:
        chosen = list(names) if names is not None else list(entries)
        unknown = [n for n in chosen if n not in entries]
        if unknown:
            known = ", ".join(entries) or "none"
            raise UsageError(f"unknown MCP server(s) {unknown} (known: {known})")
        if not chosen:
            raise UsageError("an MCPGroup needs at least one server")
        group = cls.__new__(cls)
        group._setup(*group_options, options, source)
        group._names = tuple(chosen) if names is not None else None
        try:
            for name in chosen:
                group._registry.put(group._slot_for(entries[name]), replace=False)
        except BaseException:
            group._registry.close()
            raise
        return group

    def _permissions_for(self, name: str, entry: ServerEntry | None) -> ToolPermissions:
        given = self._permissions.get(name)
        if given is not None:
            if not isinstance(given, ToolPermissions):
                raise UsageError(f"permissions[{name!r}] must be a ToolPermissions")
            return given
        if entry is None:
            return ToolPermissions()
        return ToolPermissions.from_entry(entry.raw, f"mcpServers.{name}")

    def _slot_for(self, entry: ServerEntry, *, stopped: bool = False) -> ServerSlot:
        """A fresh (unstarted) client for ``entry`` in a new slot."""
        permissions = self._permissions_for(entry.name, entry)
        options = dict(self._client_options)
        user_callback = options.pop("on_notification", None)
        options["on_notification"] = self._notification_handler(entry.name, user_callback)
        client = MCPClient.from_entry(entry, **options)
        return ServerSlot(entry.name, client, entry, permissions, True, stopped=stopped)

    def _notification_handler(
        self, server: str, user_callback: Callable[[ServerNotification], None] | None
    ) -> Callable[[ServerNotification], None]:
        def handle(notification: ServerNotification) -> None:
            if notification.method == "notifications/tools/list_changed":
                self._tools_changed(server)
            if user_callback is not None:
                user_callback(notification)

        return handle

    def _tools_changed(self, server: str) -> None:
        """A server's tools changed: forget its qualified names and tell the callback."""
        with self._lock:
            self._qualified = {q: p for q, p in self._qualified.items() if p[0] != server}
            self._tools_versions[server] = self._tools_versions.get(server, 0) + 1
        callback = self._on_tools_changed
        if callback is not None:
            try:
                callback(server)
            except Exception:
                logger.exception("on_tools_changed %r raised; ignored", callback)

    # -- servers -----------------------------------------------------------------------------

    @property
    def servers(self) -> list[str]:
        """The servers' names, in configuration order."""
        return self._registry.names()

    def client(self, server: str) -> MCPClient:
        """The current client of ``server`` (it connects on first use). A restart or reload
        replaces it: ask again rather than keeping it.

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        return self._registry.get(server).client

    def permissions(self, server: str) -> ToolPermissions:
        """The tool permissions of ``server``.

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        return self._registry.get(server).permissions

    def tools_version(self, server: str) -> int:
        """How many ``notifications/tools/list_changed`` ``server`` sent (0: none)."""
        with self._lock:
            return self._tools_versions.get(server, 0)

    def is_stopped(self, server: str) -> bool:
        """True when :meth:`stop_server` stopped ``server`` (False for unknown servers)."""
        try:
            return self._registry.get(server).stopped
        except UsageError:
            return False

    def add_server(
        self,
        name: str,
        server: MCPClient | ServerEntry | Mapping[str, Any],
        *,
        owned: bool = True,
        permissions: ToolPermissions | None = None,
    ) -> None:
        """Add a server at run time (it starts on first use, like the others).

        Args:
            name: its name in the group (must be new).
            server: an ``mcpServers`` entry (a mapping such as ``{"command": ...}`` or a
                parsed :class:`ServerEntry`), built with the group's client options; or a
                client (the group cannot restart it; closed by :meth:`close` if ``owned``).
            owned: for a client: the group closes it when it is removed or the group closes.
            permissions: its tool permissions; None: the entry's ``includeTools`` /
                ``excludeTools`` (or the group's ``permissions[name]``), else every tool.

        Raises:
            UsageError: the name exists, a malformed entry, or a closed group.
        """
        if permissions is not None and not isinstance(permissions, ToolPermissions):
            raise UsageError("permissions must be a ToolPermissions")
        with self._manage:
            if isinstance(server, MCPClient):
                slot = ServerSlot(name, server, None, ToolPermissions(), owned)
            else:
                entry = server if isinstance(server, ServerEntry) else parse_entry(
                    name, dict(server), f"add_server({name!r})"
                )  # fmt: skip
                if entry.name != name:
                    entry = parse_entry(name, dict(entry.raw), f"add_server({name!r})")
                slot = self._slot_for(entry)
            if permissions is not None:
                slot.permissions = permissions
            elif name in self._permissions:
                slot.permissions = self._permissions_for(name, None)
            try:
                self._registry.put(slot, replace=False)
            except BaseException:
                if slot.entry is not None:
                    slot.client.close()
                raise
            if permissions is not None:
                self._permissions[name] = permissions

    def remove_server(self, name: str, *, wait: bool = False) -> None:
        """Remove a server at run time. New calls to it fail with UsageError at once; calls
        in flight finish (up to ``drain_timeout_s``) before its client is closed.

        Args:
            name: the server.
            wait: block until its client is closed (bounded by the drain timeout).

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        with self._manage:
            slot = self._registry.pop(name)
            self._forget(name)
        self._registry.retire(slot, wait=wait)

    def stop_server(self, name: str, *, wait: bool = False) -> None:
        """Stop a server: its process is stopped once its calls in flight finished, and new
        calls fail with UsageError until :meth:`start_server`. It is not listed, and the
        monitor reports it ``"stopped"``.

        Args:
            name: the server.
            wait: block until its process is stopped (bounded by the drain timeout).

        Raises:
            UsageError: an unknown server, one given as a client (the group cannot rebuild
                it), or a closed group.
        """
        with self._manage:
            slot = self._registry.get(name)
            if slot.stopped:
                return
            _, old = self._replace(slot, stopped=True)
        self._registry.retire(old, wait=wait)

    def start_server(self, name: str) -> MCPClient:
        """Start a server now (a stopped one included): start its process and negotiate.

        Returns:
            Its client, connected.

        Raises:
            UsageError: an unknown server, or a closed group.
            ConnectError, TransportError, ...: as :meth:`MCPClient.connect`.
        """
        with self._manage:
            slot = self._registry.get(name)
            if slot.stopped:
                slot = ServerSlot(slot.name, slot.client, slot.entry, slot.permissions, slot.owned)
                self._registry.put(slot, replace=True)  # a stopped slot has no calls to drain
        return slot.client.connect()

    def restart_server(self, name: str, *, wait: bool = False) -> MCPClient:
        """Restart a server: a new process takes new calls at once; the old one finishes
        its calls in flight (up to ``drain_timeout_s``) and is then stopped.

        Args:
            name: the server.
            wait: block until the old process is stopped.

        Returns:
            The new client, connected.

        Raises:
            UsageError: an unknown server, one given as a client, or a closed group.
            ConnectError, TransportError, ...: the new process could not start (it is
                still in place and is started again on the next call).
        """
        with self._manage:
            new, old = self._replace(self._registry.get(name), stopped=False)
        self._registry.retire(old, wait=wait)
        return new.client.connect()

    def _replace(self, slot: ServerSlot, *, stopped: bool) -> tuple[ServerSlot, ServerSlot]:
        """Put a fresh client of ``slot``'s entry in its place; returns (new, old) (the old
        one to retire)."""
        if slot.entry is None:
            raise UsageError(
                f"MCP server {slot.name!r} was given as a client: the group cannot stop or "
                "restart it (give it as an mcpServers entry instead)"
            )
        new = self._slot_for(slot.entry, stopped=stopped)
        new.permissions = slot.permissions
        try:
            old = self._registry.put(new, replace=True)
        except BaseException:
            new.client.close()
            raise
        self._forget(slot.name)
        return new, old or slot

    def reload(
        self, config: str | os.PathLike[str] | Mapping[str, Any] | None = None
    ) -> ReloadResult:
        """Read the ``mcpServers`` configuration again and apply the difference: new
        servers are added, missing ones removed, changed ones replaced (by a new client),
        the others left alone. Replaced and removed servers finish their calls in flight
        (up to ``drain_timeout_s``) before they are closed; servers given as clients are
        left alone. Nothing changes when the configuration is invalid.

        Args:
            config: a file, or a mapping as :meth:`from_dict` takes; None: the file the
                group was built from (only the ``names`` it was built with, if given).

        Returns:
            A :class:`~syncclients.mcp.registry.ReloadResult` naming what changed.

        Raises:
            UsageError: a missing or malformed configuration, None for a group not built
                from a file, or a closed group.
        """
        if config is None:
            if self._source is None:
                raise UsageError("this MCPGroup was not built from a file: pass the config")
            entries = load_servers(self._source)
        elif isinstance(config, Mapping):
            entries = parse_servers(config)
        else:
            entries = load_servers(config)
        if config is None and self._names is not None:
            entries = {n: e for n, e in entries.items() if n in self._names}
        with self._manage:
            return self._apply(entries)

    def _apply(self, entries: Mapping[str, ServerEntry]) -> ReloadResult:
        current = {s.name: s.entry for s in self._registry.slots()}
        result = diff_entries(current, entries)
        built: dict[str, ServerSlot] = {}
        try:
            for name in (*result.added, *result.changed):
                built[name] = self._slot_for(entries[name])
        except BaseException:
            for slot in built.values():
                slot.client.close()
            raise
        for name in result.added:
            self._registry.put(built[name], replace=False)
        for name in result.changed:
            old = self._registry.put(built[name], replace=True)
            self._forget(name)
            if old is not None:
                self._registry.retire(old)
        for name in result.removed:
            self._forget(name)
            self._registry.retire(self._registry.pop(name))
        self._registry.reorder(list(entries))
        if result.added or result.changed or result.removed:
            logger.info(
                "MCP config reloaded: added %s, removed %s, changed %s",
                list(result.added), list(result.removed), list(result.changed),
            )  # fmt: skip
        return result

    def _forget(self, server: str) -> None:
        with self._lock:
            self._qualified = {q: p for q, p in self._qualified.items() if p[0] != server}

    # -- tools -------------------------------------------------------------------------------

    def list_tools(
        self,
        *,
        servers: Iterable[str] | None = None,
        strict: bool = False,
        skip_failed: bool | None = None,
    ) -> GroupToolListing:
        """The servers' tools, listed concurrently, under unique qualified names.

        A server whose listing fails (it cannot start, refuses the connection, answers an
        error) is left out and reported, not raised, unless ``strict``: its error is in the
        result's ``errors`` (and :attr:`listing_errors`) and logged at WARNING on the
        ``syncclients.mcp`` logger. When every server fails the result is empty and
        ``errors`` names them all: check it. Tools a server's permissions deny are left
        out, and so are stopped servers.

        Each server's listing comes from its client, which keeps it for as long as the
        server's cache hint (``ttlMs``, 2026-07-28 era) allows and drops it on
        ``notifications/tools/list_changed``: a server's new tools appear here without a
        restart.

        Args:
            servers: list (and start) only these servers, in configuration order; None: all.
                Qualified names are made unique within the listing, so a ``~N`` suffix of a
                partial listing can differ from the whole group's.
            strict: raise the first failure (in configuration order) instead of leaving the
                server out.
            skip_failed: the older spelling: ``skip_failed=False`` means ``strict=True``.

        Returns:
            A :class:`GroupToolListing` of :class:`GroupTool` items, servers in configuration
            order, tools in server order, with ``errors`` per left-out server.

        Raises:
            SyncClientsError: with ``strict``, a server's listing failed (the message names
                the server's target).
            UsageError: an unknown server in ``servers``, or a closed group.
        """
        if skip_failed is not None:
            strict = not skip_failed
        if servers is None:
            chosen = [s.name for s in self._registry.slots() if not s.stopped]
        else:
            wanted = set(servers)
            for name in wanted:
                self._registry.get(name)  # UsageError for an unknown server
            chosen = [name for name in self.servers if name in wanted]

        def listing(server: str, call: BatchCall) -> list[Tool]:
            with self._registry.use(server) as slot:
                return [t for t in slot.client.list_tools() if slot.permissions.allows(t.name)]

        outcomes = run_batch(listing, chosen, max_workers=max(1, len(chosen)))
        tools: list[GroupTool] = []
        qualified: dict[str, tuple[str, str]] = {}
        errors: dict[str, BaseException] = {}
        for server, outcome in zip(chosen, outcomes, strict=True):
            if not outcome.ok or outcome.result is None:
                error = outcome.error or SyncClientsError(f"{server}: no tool listing")
                if strict:
                    raise error
                logger.warning("MCP server %r: tools/list failed: %s", server, error)
                errors[server] = error
                continue
            for tool in outcome.result:
                name = base = f"{server}{SEPARATOR}{tool.name}"
                suffix = 2
                while name in qualified:
                    name = f"{base}~{suffix}"
                    suffix += 1
                qualified[name] = (server, tool.name)
                tools.append(GroupTool(server, name, tool))
        with self._lock:
            if servers is None:
                self._qualified = qualified
            self.listing_errors = errors
        return GroupToolListing(tools, errors)

    def servers_for(self, qualified_name: str) -> list[str]:
        """The servers a qualified name can belong to: those whose name followed by
        :data:`SEPARATOR` begins it (nothing is started).

        Returns:
            Server names in configuration order; empty when no server can own the name.
        """
        return [s for s in self.servers if qualified_name.startswith(s + SEPARATOR)]

    def resolve(self, qualified_name: str) -> tuple[str, str]:
        """The ``(server, tool)`` of a qualified name.

        A name only one server can own (see :meth:`servers_for`) and without a ``~N``
        suffix is resolved by listing that server's tools alone, so other servers are not
        started and a broken one does not matter. Otherwise every server is listed once
        (non-strict) and the name is looked up among the group's qualified names.

        Raises:
            UsageError: no tool has that qualified name. (A name only one server can own
                that its permissions deny is resolved without listing, so that calling it
                says it is denied.)
            SyncClientsError: the one server that can own the name could not be listed.
        """
        with self._lock:
            found = self._qualified.get(qualified_name)
        if found is not None:
            return found
        candidates = self.servers_for(qualified_name)
        if not candidates:
            raise UsageError(f"no tool named {qualified_name!r} in this group")
        if len(candidates) == 1 and "~" not in qualified_name:
            server = candidates[0]
            tool = qualified_name[len(server) + len(SEPARATOR) :]
            if not self.permissions(server).allows(tool):
                return server, tool  # calling it raises ToolNotAllowedError; nothing sent
            with self._registry.use(server) as slot:
                listed = slot.client.list_tools()
            if not any(t.name == tool for t in listed):
                raise UsageError(f"no tool named {qualified_name!r} in this group")
            with self._lock:  # no other server can own the name: the group's own naming
                self._qualified.setdefault(qualified_name, (server, tool))
            return server, tool
        self.list_tools()
        with self._lock:
            found = self._qualified.get(qualified_name)
        if found is None:
            raise UsageError(f"no tool named {qualified_name!r} in this group")
        return found

    def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        caller: str | None = None,
        **call_tool_kwargs: Any,
    ) -> CallToolResult:
        """Call ``tool`` on ``server`` (see :meth:`MCPClient.call_tool` for the keywords,
        result and errors). One :class:`~syncclients.mcp.audit.AuditRecord` is emitted.

        Args:
            caller: the identity of whoever asked for the call (a user, an agent), for the
                audit record; None: unknown.

        Raises:
            UsageError: an unknown or stopped server (nothing was sent).
            ToolNotAllowedError: the server's permissions deny the tool (nothing was sent).
        """
        with self._registry.use(server) as slot:
            return self._audited(
                slot, tool, arguments, caller,
                lambda: slot.client.call_tool(tool, arguments, **call_tool_kwargs),
            )  # fmt: skip

    def _audited(
        self,
        slot: ServerSlot,
        tool: str,
        arguments: Mapping[str, Any] | None,
        caller: str | None,
        run: Callable[[], CallToolResult],
    ) -> CallToolResult:
        """Check the permissions, run the call and emit its audit record."""
        timer = AuditTimer()
        outcome: Any = "failure"
        error: BaseException | None = None
        try:
            slot.permissions.check(slot.name, tool)
            result = run()
            outcome = "tool_error" if result.is_error else "success"
            return result
        except ToolNotAllowedError as exc:
            outcome, error = "denied", exc
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self._audit_hooks:
                record = AuditRecord(
                    server=slot.name,
                    tool=tool,
                    arguments=redact_arguments(
                        arguments if isinstance(arguments, Mapping) else None
                    ),
                    outcome=outcome,
                    error=one_line(error),
                    duration_s=0.0 if outcome == "denied" else timer.elapsed_s(),
                    caller=caller,
                    started_at=timer.started_at,
                )
                emit_audit(self._audit_hooks, record)

    def call_qualified(
        self,
        qualified_name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        caller: str | None = None,
        **call_tool_kwargs: Any,
    ) -> CallToolResult:
        """Call a tool by its qualified name (``server__tool``), as listed by :meth:`list_tools`.

        Raises:
            UsageError: an unknown qualified name. ToolNotAllowedError: a denied tool.
            Otherwise as :meth:`MCPClient.call_tool`.
        """
        server, tool = self.resolve(qualified_name)
        return self.call_tool(server, tool, arguments, caller=caller, **call_tool_kwargs)

    def call_batch(
        self,
        calls: Iterable[tuple[str, str, Mapping[str, Any] | None]],
        *,
        max_workers: int = 8,
        timeout: float | None = None,
        deadline: float | None = None,
        fail_fast: bool = False,
        on_progress: Callable[[BatchProgress], None] | None = None,
        progress: bool = False,
        executor: Executor | None = None,
        caller: str | None = None,
    ) -> list[BatchOutcome[CallToolResult]]:
        """Call many tools across servers concurrently; one outcome per call, in order.

        Each call goes to its server's client (its breaker, retry budget and safety rules);
        see :meth:`MCPClient.call_tool_batch` for the keywords and the outcomes. A call the
        server's permissions deny gets an outcome with
        :class:`~syncclients.errors.ToolNotAllowedError` (nothing sent; the others run).
        Each call emits one audit record.

        Args:
            calls: ``(server, tool_name, arguments)`` triples.
            caller: the identity of whoever asked for the calls, for the audit records.

        Returns:
            A list of :class:`~syncclients.batch.BatchOutcome`, in input order.

        Raises:
            UsageError: a malformed triple or an unknown server (before anything is sent).
            BatchInterrupted: Ctrl-C; carries the outcomes so far.
        """
        items: list[tuple[str, str, Mapping[str, Any] | None]] = []
        for call in calls:
            if not isinstance(call, tuple | list) or len(call) != 3:
                raise UsageError(f"each call must be (server, tool, arguments), got {call!r}")
            server, tool, arguments = call
            if not isinstance(tool, str) or not tool:
                raise UsageError(f"tool name must be a non-empty string, got {tool!r}")
            if arguments is not None and not isinstance(arguments, Mapping):
                raise UsageError(f"arguments for {server}/{tool} must be a mapping or None")
            self._registry.get(server)  # UsageError for an unknown server
            items.append((server, tool, arguments))

        def one(item: tuple[str, str, Mapping[str, Any] | None], call: BatchCall) -> CallToolResult:
            server, tool, arguments = item
            with self._registry.use(server) as slot:
                return self._audited(
                    slot, tool, arguments, caller,
                    lambda: slot.client._call_in_batch(tool, arguments, call),
                )  # fmt: skip

        return run_batch(
            one, items, max_workers=max_workers, timeout=timeout, deadline=deadline,
            fail_fast=fail_fast, on_progress=on_progress, progress=progress,
            executor=executor, description="tools/call", result_failed=tool_failed,
        )  # fmt: skip

    # -- health ------------------------------------------------------------------------------

    def metrics(self) -> dict[str, MCPClientMetrics]:
        """Each server's :meth:`MCPClient.metrics` snapshot, by server name, in configuration
        order. Connects nothing."""
        return {slot.name: slot.client.metrics() for slot in self._registry.slots()}

    @property
    def monitor(self) -> HealthMonitor | None:
        """The running health monitor, or None."""
        monitor = self._monitor
        return monitor if monitor is not None and monitor.running else None

    def start_monitor(
        self,
        *,
        interval_s: float = 30.0,
        timeout_s: float = 5.0,
        history: int = 100,
        on_change: Callable[[StatusChange], None] | None = None,
    ) -> HealthMonitor:
        """Start a background :class:`~syncclients.mcp.monitor.HealthMonitor` (stopped by
        :meth:`stop_monitor` or :meth:`close`). While it runs, :meth:`health` reads its
        results instead of probing.

        Args: see :class:`~syncclients.mcp.monitor.HealthMonitor`.

        Returns:
            The started monitor.

        Raises:
            UsageError: a monitor is already running, bad arguments, or a closed group.
        """
        if self._registry.closed:
            raise UsageError("this MCPGroup is closed")
        with self._lock:
            if self.monitor is not None:
                raise UsageError("this MCPGroup's health monitor is already running")
            monitor = HealthMonitor(
                self, interval_s=interval_s, timeout_s=timeout_s, history=history,
                on_change=on_change,
            )  # fmt: skip
            self._monitor = monitor
        return monitor.start()

    def stop_monitor(self) -> None:
        """Stop the health monitor, if one runs (waits for its round in progress)."""
        with self._lock:
            monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.stop()

    def health(self, *, timeout_s: float = 5.0) -> list[ServerHealth]:
        """Every server's health: the monitor's last results while it runs (no network
        call; a server it has not probed yet reports ``error="not probed yet"``), else a
        probe of every server now (:meth:`probe`).

        Args:
            timeout_s: the most time per server when probing (connection and probe), in
                seconds.

        Returns:
            One :class:`ServerHealth` per server, in configuration order. Failures are
            reported, not raised.
        """
        monitor = self.monitor
        if monitor is None:
            return self.probe(timeout_s=timeout_s, include_stopped=True)
        last = monitor.last()
        return [
            last.get(s) or ServerHealth(s, False, 0.0, _stopped_or(s, self), None, None)
            for s in self.servers
        ]

    def probe(self, *, timeout_s: float = 5.0, include_stopped: bool = False) -> list[ServerHealth]:
        """Probe every server that is not stopped concurrently, once, without retries.

        Args:
            timeout_s: the most time per server (connection and probe), in seconds.
            include_stopped: also report stopped servers (``ok=False``, ``error="stopped"``,
                not probed).

        Returns:
            One :class:`ServerHealth` per server, in configuration order.
        """
        slots = self._registry.slots()
        servers = [s.name for s in slots if not s.stopped]
        outcomes = run_batch(
            lambda server, call: self._probe(server, timeout_s),
            servers,
            max_workers=max(1, len(servers)),
            deadline=timeout_s + 1.0,
        )
        found = {
            s: o.result
            if o.ok and o.result is not None
            else ServerHealth(s, False, timeout_s, _one_line(o.error), None, None)
            for s, o in zip(servers, outcomes, strict=True)
        }
        if include_stopped:
            for slot in slots:
                if slot.stopped:
                    found[slot.name] = ServerHealth(slot.name, False, 0.0, "stopped", None, None)
        return [found[s.name] for s in slots if s.name in found]

    def _probe(self, server: str, timeout_s: float) -> ServerHealth:
        started = time.monotonic()
        error: str | None = None
        version: str | None = None
        with self._registry.use(server) as slot:
            client = slot.client
            try:
                client.ping(timeout=timeout_s)
                version = client.protocol_version
            except (SyncClientsError, UsageError) as exc:
                error = _one_line(exc)
        breaker = client.resilience.breaker
        return ServerHealth(
            server=server,
            ok=error is None,
            latency_s=time.monotonic() - started,
            error=error,
            breaker_state=breaker.state if breaker is not None else None,
            protocol_version=version,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the monitor and close the clients the group built (all of them, in
        parallel; replaced or removed ones still draining too). Idempotent."""
        self.stop_monitor()
        self._registry.close()

    def __enter__(self) -> MCPGroup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MCPGroup({', '.join(self.servers)})"


def _stopped_or(server: str, group: MCPGroup) -> str:
    return "stopped" if group.is_stopped(server) else "not probed yet"


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
