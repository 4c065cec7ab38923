"""Observability: plugins, OpenTelemetry traces and metrics, Prometheus metrics.

``enable("opentelemetry")`` and ``enable("prometheus")`` switch our plugins on for every
client in the process (clients created before included); ``disable(name)`` undoes it. Names
are looked up in the entry-point group ``syncclients.plugins``, so a separately installed
distribution can add its own plugin::

    [project.entry-points."syncclients.plugins"]
    mine = "my_package.module:MyPlugin"

The entry point names a :class:`Plugin` subclass (or any callable returning a plugin),
called with the keyword arguments given to :func:`enable`. Per client, pass plugin
instances as ``plugins=[...]`` (``HTTPClient``, ``MCPClient``) or among ``hooks=[...]``
(every client).
"""

from __future__ import annotations

import threading
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from ..errors import UsageError
from ..resilience.plugins import (
    AttemptScope,
    CallScope,
    ClientInfo,
    Plugin,
    activate,
    active_plugins,
    deactivate,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "AttemptScope",
    "CallScope",
    "ClientInfo",
    "Plugin",
    "activate",
    "active_plugins",
    "deactivate",
    "disable",
    "enable",
    "enabled",
    "load",
]

#: The entry-point group plugins are registered in.
ENTRY_POINT_GROUP = "syncclients.plugins"

#: Ours, also declared in pyproject; used when the installed metadata predates them (a
#: source checkout on ``PYTHONPATH``).
_BUILTIN = {
    "opentelemetry": "syncclients.observability.otel:OpenTelemetryPlugin",
    "prometheus": "syncclients.observability.prometheus:PrometheusPlugin",
}

_lock = threading.Lock()
_by_name: dict[str, Plugin] = {}


def load(name: str, **options: Any) -> Plugin:
    """Build the plugin registered under ``name`` in ``syncclients.plugins``.

    Args:
        name: the entry-point name (``"opentelemetry"``, ``"prometheus"``, ...).
        **options: keyword arguments for the plugin's constructor.

    Returns:
        A new plugin instance (not activated).

    Raises:
        UsageError: no plugin has that name, or what it names does not build a
            :class:`Plugin` (an optional dependency missing shows here too).
    """
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and name not in _BUILTIN:
        known = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | {*_BUILTIN})
        raise UsageError(f"no syncclients plugin named {name!r} (installed: {known})")
    try:
        if found:
            factory = found[0].load()
        else:
            module, _, attr = _BUILTIN[name].partition(":")
            factory = getattr(import_module(module), attr)
        plugin = factory(**options)
    except ImportError as exc:
        raise UsageError(
            f"syncclients plugin {name!r} needs a package that is not installed: {exc}"
        ) from exc
    if not isinstance(plugin, Plugin):
        raise UsageError(f"entry point {name!r} did not build a syncclients Plugin")
    return plugin


def enable(name: str, **options: Any) -> Plugin:
    """Switch the named plugin on for every client in this process.

    Idempotent: enabling a name already on returns the running instance (``options`` are
    then ignored).

    Args:
        name: the entry-point name; ours are ``"opentelemetry"`` and ``"prometheus"``.
        **options: constructor arguments (e.g. ``tracer_provider=``, ``registry=``).

    Returns:
        The active plugin instance.

    Raises:
        UsageError: see :func:`load`.
    """
    with _lock:
        running = _by_name.get(name)
        if running is not None:
            return running
        plugin = load(name, **options)
        _by_name[name] = plugin
        activate(plugin)
        return plugin


def disable(name: str) -> bool:
    """Switch the named plugin off process-wide; returns False when it was not on."""
    with _lock:
        plugin = _by_name.pop(name, None)
    return plugin is not None and deactivate(plugin)


def enabled() -> list[str]:
    """The names switched on with :func:`enable`, in order."""
    with _lock:
        return list(_by_name)
