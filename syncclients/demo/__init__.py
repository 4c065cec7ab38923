"""The bundled demo: an MCP server on the official SDK, and the ``syncclients demo`` job.

:mod:`.server` needs the official MCP SDK (``pip install 'syncclients[demo]'``); importing
this package does not. :mod:`.run` drives the server through the public client API.
"""

from __future__ import annotations

__all__ = ["SERVER_MODULE"]

#: The module to run with ``python -m`` to start the demo server.
SERVER_MODULE = "syncclients.demo.server"
