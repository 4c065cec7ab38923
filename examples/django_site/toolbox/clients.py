"""The process-wide MCP clients: built once from settings, shared by every request thread.

``start()`` is called by ``ToolboxConfig.ready()``; views call ``group()``. The clients are
closed when the process exits (``atexit``), or by ``close()``.
"""

from __future__ import annotations

import atexit
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from syncclients import MCPGroup

_lock = threading.Lock()
_group: MCPGroup | None = None


def start() -> MCPGroup:
    """Build the clients from ``settings.MCP_SERVERS`` unless they exist. Idempotent."""
    global _group
    with _lock:
        if _group is None:
            _group = MCPGroup.from_dict(
                settings.MCP_SERVERS, **getattr(settings, "MCP_CLIENT_OPTIONS", {})
            )
            atexit.register(close)
        return _group


def group() -> MCPGroup:
    """The clients (an MCPGroup: one MCPClient per configured server)."""
    found = _group
    if found is None:
        raise ImproperlyConfigured("the toolbox app is not ready (is it in INSTALLED_APPS?)")
    return found


def close() -> None:
    """Close every client (stops the server processes). Idempotent; start() builds anew."""
    global _group
    with _lock:
        found, _group = _group, None
    atexit.unregister(close)
    if found is not None:
        found.close()
