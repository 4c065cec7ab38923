"""MCPGroup: many MCP servers behind one object, as MCP hosts configure them.

Built from a standard ``mcpServers`` file or mapping (one :class:`MCPClient` per entry,
each with its own breaker and retry budget), it lists every server's tools under
collision-safe, server-qualified names, routes calls, batches ``(server, tool, arguments)``
triples across servers, and reports each server's health.

Servers start lazily, each on its first use: calling one server (``call_tool``, or
``call_qualified`` with a name that can only belong to one server) starts only that server,
and one broken server does not fail a listing of the others (see :meth:`MCPGroup.list_tools`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..batch import BatchCall, BatchOutcome, BatchProgress, run_batch
from ..errors import SyncClientsError, UsageError
from .client import MCPClient, tool_failed
from .config import load_servers, parse_servers
from .metrics import MCPClientMetrics
from .types import CallToolResult, Tool

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
    """

    def __init__(self, clients: Mapping[str, MCPClient], *, owned: bool) -> None:
        if not clients:
            raise UsageError("an MCPGroup needs at least one server")
        self._clients = dict(clients)
        self._owned = owned
        self._lock = threading.Lock()
        self._qualified: dict[str, tuple[str, str]] = {}
        self._closed = False
        #: Errors of the servers left out by the last non-strict :meth:`list_tools` (the
        #: same as its result's ``errors``; prefer that one when several threads list).
        self.listing_errors: dict[str, BaseException] = {}

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        names: Iterable[str] | None = None,
        **client_options: Any,
    ) -> MCPGroup:
        """A group of the servers of an ``mcpServers`` JSON file.

        Args:
            path: the file; None: ``$MCP_CONFIG``, else ``./.mcp.json``.
            names: only these servers (in this order); None: all, in file order.
            **client_options: :class:`MCPClient` keywords applied to every server.

        Raises:
            UsageError: a missing or malformed file, or an unknown name.
        """
        return cls._build(load_servers(path), names, client_options)

    @classmethod
    def from_dict(
        cls,
        config: Mapping[str, Any],
        *,
        names: Iterable[str] | None = None,
        **client_options: Any,
    ) -> MCPGroup:
        """A group from an ``mcpServers`` mapping (``{"mcpServers": {...}}`` or the inner one).

        Raises:
            UsageError: a malformed entry or an unknown name.
        """
        return cls._build(parse_servers(config), names, client_options)

    @classmethod
    def from_clients(cls, clients: Mapping[str, MCPClient], *, owned: bool = False) -> MCPGroup:
        """A group over clients you built; they are closed by :meth:`close` only if ``owned``."""
        return cls(clients, owned=owned)

    @classmethod
    def _build(
        cls, entries: Mapping[str, Any], names: Iterable[str] | None, options: dict[str, Any]
    ) -> MCPGroup:
        chosen = list(names) if names is not None else list(entries)
        unknown = [n for n in chosen if n not in entries]
        if unknown:
            known = ", ".join(entries) or "none"
            raise UsageError(f"unknown MCP server(s) {unknown} (known: {known})")
        clients: dict[str, MCPClient] = {}
        try:
            for name in chosen:
                clients[name] = MCPClient.from_entry(entries[name], **options)
        except BaseException:
            for client in clients.values():
                client.close()
            raise
        return cls(clients, owned=True)

    # -- servers -----------------------------------------------------------------------------

    @property
    def servers(self) -> list[str]:
        """The servers' names, in configuration order."""
        return list(self._clients)

    def client(self, server: str) -> MCPClient:
        """The client of ``server`` (it connects on first use).

        Raises:
            UsageError: an unknown server, or a closed group.
        """
        if self._closed:
            raise UsageError("this MCPGroup is closed")
        try:
            return self._clients[server]
        except KeyError:
            raise UsageError(
                f"unknown MCP server {server!r} (known: {', '.join(self._clients)})"
            ) from None

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
        ``errors`` names them all: check it.

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
            chosen = self.servers
        else:
            wanted = set(servers)
            for name in wanted:
                self.client(name)  # UsageError for an unknown server
            chosen = [name for name in self.servers if name in wanted]
        outcomes = run_batch(
            lambda server, call: self.client(server).list_tools(),
            chosen,
            max_workers=max(1, len(chosen)),
        )
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
        return [s for s in self._clients if qualified_name.startswith(s + SEPARATOR)]

    def resolve(self, qualified_name: str) -> tuple[str, str]:
        """The ``(server, tool)`` of a qualified name.

        A name only one server can own (see :meth:`servers_for`) and without a ``~N``
        suffix is resolved by listing that server's tools alone, so other servers are not
        started and a broken one does not matter. Otherwise every server is listed once
        (non-strict) and the name is looked up among the group's qualified names.

        Raises:
            UsageError: no tool has that qualified name.
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
            if not any(t.name == tool for t in self.client(server).list_tools()):
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
        **call_tool_kwargs: Any,
    ) -> CallToolResult:
        """Call ``tool`` on ``server`` (see :meth:`MCPClient.call_tool` for the keywords,
        result and errors).

        Raises:
            UsageError: an unknown server (nothing was sent).
        """
        return self.client(server).call_tool(tool, arguments, **call_tool_kwargs)

    def call_qualified(
        self,
        qualified_name: str,
        arguments: Mapping[str, Any] | None = None,
        **call_tool_kwargs: Any,
    ) -> CallToolResult:
        """Call a tool by its qualified name (``server__tool``), as listed by :meth:`list_tools`.

        Raises:
            UsageError: an unknown qualified name. Otherwise as :meth:`MCPClient.call_tool`.
        """
        server, tool = self.resolve(qualified_name)
        return self.call_tool(server, tool, arguments, **call_tool_kwargs)

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
    ) -> list[BatchOutcome[CallToolResult]]:
        """Call many tools across servers concurrently; one outcome per call, in order.

        Each call goes to its server's client (its breaker, retry budget and safety rules);
        see :meth:`MCPClient.call_tool_batch` for the keywords and the outcomes.

        Args:
            calls: ``(server, tool_name, arguments)`` triples.

        Returns:
            A list of :class:`~syncclients.batch.BatchOutcome`, in input order.

        Raises:
            UsageError: a malformed triple or an unknown server (before anything is sent).
            BatchInterrupted: Ctrl-C; carries the outcomes so far.
        """
        items: list[tuple[MCPClient, str, Mapping[str, Any] | None]] = []
        for call in calls:
            if not isinstance(call, tuple | list) or len(call) != 3:
                raise UsageError(f"each call must be (server, tool, arguments), got {call!r}")
            server, tool, arguments = call
            if not isinstance(tool, str) or not tool:
                raise UsageError(f"tool name must be a non-empty string, got {tool!r}")
            if arguments is not None and not isinstance(arguments, Mapping):
                raise UsageError(f"arguments for {server}/{tool} must be a mapping or None")
            items.append((self.client(server), tool, arguments))

        def one(
            item: tuple[MCPClient, str, Mapping[str, Any] | None], call: BatchCall
        ) -> CallToolResult:
            client, tool, arguments = item
            return client._call_in_batch(tool, arguments, call)

        return run_batch(
            one, items, max_workers=max_workers, timeout=timeout, deadline=deadline,
            fail_fast=fail_fast, on_progress=on_progress, progress=progress,
            executor=executor, description="tools/call", result_failed=tool_failed,
        )  # fmt: skip

    # -- health ------------------------------------------------------------------------------

    def metrics(self) -> dict[str, MCPClientMetrics]:
        """Each server's :meth:`MCPClient.metrics` snapshot, by server name, in configuration
        order. Connects nothing."""
        return {name: self.client(name).metrics() for name in self.servers}

    def health(self, *, timeout_s: float = 5.0) -> list[ServerHealth]:
        """Probe every server concurrently, once, without retries.

        Args:
            timeout_s: the most time per server (connection and probe), in seconds.

        Returns:
            One :class:`ServerHealth` per server, in configuration order. Failures are
            reported, not raised.
        """
        servers = self.servers
        outcomes = run_batch(
            lambda server, call: self._probe(server, timeout_s),
            servers,
            max_workers=len(servers),
            deadline=timeout_s + 1.0,
        )
        return [
            o.result
            if o.ok and o.result is not None
            else ServerHealth(s, False, timeout_s, _one_line(o.error), None, None)
            for s, o in zip(servers, outcomes, strict=True)
        ]

    def _probe(self, server: str, timeout_s: float) -> ServerHealth:
        client = self.client(server)
        started = time.monotonic()
        error: str | None = None
        version: str | None = None
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
        """Close the clients the group built (all of them, in parallel). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owned:
            clients = list(self._clients.values())
            threads = [threading.Thread(target=c.close, daemon=True) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)  # each close is itself bounded (stdio: ~3 grace steps)

    def __enter__(self) -> MCPGroup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MCPGroup({', '.join(self._clients)})"


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
