"""Plugins: instrumentation called around each call and attempt of every client.

A :class:`Plugin` is set up once per client pipeline it instruments, wraps each call and
each attempt in context managers (so a tracing plugin can make its span current while the
attempt runs), receives the frozen :class:`~syncclients.resilience.hooks.AttemptRecord` of
each attempt like any hook, and is torn down when the client closes.

Two ways to attach one:

* per client: pass it among the client's ``hooks=`` (a plugin *is* a hook; ``HTTPClient`` and
  ``MCPClient`` also take ``plugins=``);
* process-wide: :func:`activate` (what ``syncclients.observability.enable`` calls); every
  pipeline reads the active set at each call, so clients created earlier are covered too.

A plugin that raises never breaks a call: the error is logged once per plugin and method
(logger ``syncclients.plugins``) and the plugin is skipped for that step.

This module sits in the resilience layer so :mod:`~syncclients.resilience.pipeline` can call
it without importing :mod:`syncclients.observability` (which builds on it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .hooks import AttemptRecord

__all__ = [
    "AttemptScope",
    "CallScope",
    "ClientInfo",
    "Plugin",
    "activate",
    "active_plugins",
    "current_attempt",
    "deactivate",
]

_log = logging.getLogger("syncclients.plugins")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The client pipeline a plugin instruments.

    Attributes:
        target: what the client calls (a base URL, an MCP server name, a gRPC target).
        protocol: ``"http"``, ``"mcp"``, ``"grpc"``, ``"llm"``, or None when the client
            did not say.
    """

    target: str
    protocol: str | None


@dataclass(slots=True)
class CallScope:
    """One logical call (all its attempts); mutable while the call runs.

    Attributes:
        client: the client making it.
        operation: the operation label of the records (``"GET /items"``,
            ``"tools/call echo"``, a gRPC method name, ``"chat <model>"``).
        result: what the call returned (set before the call scope exits), or None.
        error: what the call raised (set before the call scope exits), or None.
        data: free space for plugins (key by your plugin's name).
    """

    client: ClientInfo
    operation: str
    result: object = None
    error: BaseException | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AttemptScope:
    """One attempt of a call; ``result``/``error`` are set before the attempt scope exits.

    Attributes:
        call: the call this attempt belongs to.
        attempt: 1 for the first attempt, 2 for the first retry, ...
        result: what the attempt returned (an HTTP ``requests.Response``, an MCP result
            object, ...), or None.
        error: what the attempt raised (including a breaker rejection), or None.
        carrier: trace context a plugin wants sent with the attempt's requests
            (``traceparent``, ``tracestate``, W3C Trace Context); the MCP client puts it in
            each request's ``params._meta`` (keys the caller set win).
        request_id: the JSON-RPC id of the last request the attempt sent (MCP), or None.
        data: free space for plugins.
    """

    call: CallScope
    attempt: int
    result: object = None
    error: BaseException | None = None
    carrier: dict[str, str] = field(default_factory=dict)
    request_id: object = None
    data: dict[str, Any] = field(default_factory=dict)


class Plugin:
    """Base class of plugins: every method is optional (the defaults do nothing).

    Subclasses set :attr:`name` (the entry-point name, e.g. ``"opentelemetry"``). All
    methods run on the calling thread, so keep them quick; they must be thread-safe.
    """

    #: The plugin's name (its entry point in the ``syncclients.plugins`` group).
    name: str = "plugin"

    def setup(self, client: ClientInfo) -> None:
        """Called once per client pipeline, before its first instrumented call."""

    def call(self, scope: CallScope) -> AbstractContextManager[object]:
        """A context manager entered around a whole call (all attempts and waits)."""
        return nullcontext()

    def attempt(self, scope: AttemptScope) -> AbstractContextManager[object]:
        """A context manager entered around one attempt (the request on the wire)."""
        return nullcontext()

    def on_record(self, record: AttemptRecord) -> None:
        """The frozen record of an attempt (after its attempt scope has exited)."""

    def teardown(self, client: ClientInfo) -> None:
        """Called when a client it was set up for closes."""

    def close(self) -> None:
        """Called when the plugin is deactivated process-wide (release exporters...)."""

    def __call__(self, record: AttemptRecord) -> None:  # a Hook: per-client attachment
        guarded(self, "on_record", self.on_record, record)


_lock = threading.Lock()
_current = threading.local()
_active: tuple[Plugin, ...] = ()
_reported: set[tuple[int, str]] = set()


def current_attempt() -> AttemptScope | None:
    """The instrumented attempt running on this thread (None outside one, or without plugins)."""
    scope: AttemptScope | None = getattr(_current, "scope", None)
    return scope


@contextmanager
def running(scope: AttemptScope) -> Iterator[None]:
    """Make ``scope`` this thread's :func:`current_attempt` while the body runs."""
    previous = getattr(_current, "scope", None)
    _current.scope = scope
    try:
        yield
    finally:
        _current.scope = previous


def active_plugins() -> tuple[Plugin, ...]:
    """The process-wide plugins, in activation order."""
    return _active


def activate(plugin: Plugin) -> None:
    """Switch ``plugin`` on for every client in the process (no-op when already on)."""
    global _active
    with _lock:
        if plugin not in _active:
            _active = (*_active, plugin)


def deactivate(plugin: Plugin) -> bool:
    """Switch a process-wide plugin off and :meth:`Plugin.close` it; False if it was off."""
    global _active
    with _lock:
        if plugin not in _active:
            return False
        _active = tuple(p for p in _active if p is not plugin)
    guarded(plugin, "close", plugin.close)
    return True


def report(plugin: Plugin, method: str) -> None:
    """Log a plugin's failure once per plugin and method (with the traceback)."""
    key = (id(plugin), method)
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    _log.exception(
        "syncclients plugin %r raised in %s; ignored (logged once)",
        getattr(plugin, "name", plugin),
        method,
    )


def guarded(plugin: Plugin, method: str, fn: Any, *args: Any) -> None:
    """Call ``fn(*args)``; a failure is reported once and swallowed."""
    try:
        fn(*args)
    except Exception:
        report(plugin, method)


@contextmanager
def scoped(
    plugins: Sequence[Plugin], method: str, scope: CallScope | AttemptScope
) -> Iterator[None]:
    """Enter ``plugin.<method>(scope)`` of every plugin; failing plugins are skipped.

    The body's exception is never suppressed by a plugin (their ``__exit__`` return value
    is ignored) and a plugin raising on exit is reported, not propagated.
    """
    entered: list[tuple[Plugin, AbstractContextManager[object]]] = []
    for plugin in plugins:
        try:
            cm = getattr(plugin, method)(scope)
            cm.__enter__()
        except Exception:
            report(plugin, method)
            continue
        entered.append((plugin, cm))
    try:
        yield
    except BaseException as exc:
        for plugin, cm in reversed(entered):
            try:
                cm.__exit__(type(exc), exc, exc.__traceback__)
            except Exception:
                report(plugin, method)
        raise
    else:
        for plugin, cm in reversed(entered):
            try:
                cm.__exit__(None, None, None)
            except Exception:
                report(plugin, method)
