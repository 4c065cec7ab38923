"""The syncclients demo MCP server, built on the official MCP SDK (``mcp`` >= 2.3).

Run it with ``python -m syncclients.demo.server`` (stdio, the default) or
``python -m syncclients.demo.server --http [--port N]`` (Streamable HTTP at
``http://127.0.0.1:N/mcp``; it binds 127.0.0.1 only; port 0, the default, picks a free
port). In HTTP mode the first line on stdout is ``listening on <url>``, printed once the
socket accepts connections.

It serves both MCP eras and gives every client feature something to show:

========== ========================================================================
tool       behaviour
========== ========================================================================
add        adds two integers at once (``readOnlyHint``)
echo       returns its text at once (``readOnlyHint``)
slow       waits ``ms`` milliseconds (0-5000) without blocking other requests
           (``idempotentHint``: retried if it times out on a loaded machine)
lookup     a slow (about 120 ms) read-only catalogue lookup (``readOnlyHint``): a client
           result cache turns repeated keys into hits
divide     ``a / b``; fails for ``b == 0`` (a tool error: ``isError: true``)
flaky      the first call per ``key`` does not answer in time (it stalls, as an
           overloaded backend does) and later calls answer at once; annotated
           ``idempotentHint`` so a client that times out retries it, and the retry
           succeeds. Deterministic per server process.
========== ========================================================================

Resources: ``demo://readme`` (text) and the template ``demo://items/{item_id}``. Prompt:
``summarize(topic, style)``. List results carry cache hints (``ttlMs``) in the 2026-07-28
era.

This module needs the SDK; it is installed by the ``demo`` extra
(``pip install 'syncclients[demo]'``) and never imported by the rest of the package.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Sequence
from typing import Any

from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

__all__ = ["CATALOGUE", "FLAKY_STALL_S", "LOOKUP_DELAY_S", "build_server", "main"]

#: Seconds the first call per ``flaky`` key stalls (a client times out well before).
FLAKY_STALL_S = 30.0
#: Seconds one ``lookup`` takes.
LOOKUP_DELAY_S = 0.12
#: The longest ``slow`` wait, in milliseconds.
MAX_SLOW_MS = 5000

#: The items behind ``lookup`` and ``demo://items/{item_id}``.
CATALOGUE: dict[str, dict[str, Any]] = {
    "apple": {"price": 0.5, "stock": 120, "unit": "piece"},
    "bread": {"price": 2.2, "stock": 15, "unit": "loaf"},
    "cheese": {"price": 7.9, "stock": 8, "unit": "kg"},
    "dates": {"price": 4.1, "stock": 40, "unit": "box"},
    "eggs": {"price": 3.0, "stock": 60, "unit": "dozen"},
}

_README = """\
syncclients demo server
=======================
Tools: add, echo, slow, lookup, divide, flaky (see `syncclients tools`).
Resources: demo://readme, demo://items/{item_id} (one of: apple, bread, cheese, dates, eggs).
Prompt: summarize(topic, style).
"""

_LIST_TTL = CacheHint(ttl_ms=60_000, scope="public")


def build_server(*, flaky_stall_s: float = FLAKY_STALL_S) -> MCPServer:
    """Build the demo server (fresh state: ``flaky`` has seen no key yet).

    Args:
        flaky_stall_s: seconds the first ``flaky`` call per key stalls before answering.

    Returns:
        The configured, not yet running :class:`MCPServer`.
    """
    mcp = MCPServer(
        "syncclients-demo",
        version="1.0.0",
        instructions="A demo server for syncclients: fast, slow, failing and flaky tools.",
        cache_hints={
            "tools/list": _LIST_TTL,
            "resources/list": _LIST_TTL,
            "resources/templates/list": _LIST_TTL,
            "prompts/list": _LIST_TTL,
        },
    )
    flaky_seen: set[str] = set()

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @mcp.tool(annotations=ToolAnnotations(idempotent_hint=True))
    async def slow(ms: int) -> str:
        """Wait ms milliseconds (0-5000), then answer."""
        if not 0 <= ms <= MAX_SLOW_MS:
            raise ToolError(f"ms must be between 0 and {MAX_SLOW_MS}, got {ms}")
        await asyncio.sleep(ms / 1000)
        return f"waited {ms} ms"

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def lookup(item: str) -> dict[str, Any]:
        """Look an item up in the catalogue (takes about 120 ms; read-only, so cacheable)."""
        await asyncio.sleep(LOOKUP_DELAY_S)
        found = CATALOGUE.get(item)
        if found is None:
            raise ToolError(f"no item {item!r}; known: {', '.join(CATALOGUE)}")
        return {"item": item, **found}

    @mcp.tool()
    def divide(a: float, b: float) -> float:
        """Divide a by b; fails (isError) when b is 0."""
        if b == 0:
            raise ToolError("cannot divide by zero")
        return a / b

    @mcp.tool(annotations=ToolAnnotations(idempotent_hint=True, read_only_hint=False))
    async def flaky(key: str) -> str:
        """Stall on the first call per key (the client times out and retries), then answer."""
        if key not in flaky_seen:
            flaky_seen.add(key)
            await asyncio.sleep(flaky_stall_s)
            return f"{key}: answered late"
        return f"{key}: ok on retry"

    @mcp.resource("demo://readme", mime_type="text/plain")
    def readme() -> str:
        """What this server offers."""
        return _README

    @mcp.resource("demo://items/{item_id}", mime_type="application/json")
    def item(item_id: str) -> dict[str, Any]:
        """One catalogue item as JSON."""
        found = CATALOGUE.get(item_id)
        if found is None:
            raise ValueError(f"no item {item_id!r}")
        return {"item": item_id, **found}

    @mcp.prompt()
    def summarize(topic: str, style: str = "brief") -> str:
        """Ask for a summary of a topic."""
        return f"Write a {style} summary of {topic}, in plain words."

    return mcp


def _serve_http(mcp: MCPServer, port: int) -> None:
    import uvicorn

    app = mcp.streamable_http_app(host="127.0.0.1")
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets; without it Nagle
    # and delayed ACK add 40 ms to every answer on a kept-alive connection
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    async def serve() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"listening on {url}", flush=True)
        await task

    asyncio.run(serve())


def main(argv: Sequence[str] | None = None) -> None:
    """Run the demo server until its stdin closes (stdio) or it is stopped (HTTP).

    Args:
        argv: command-line arguments; None: ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m syncclients.demo.server", description="The syncclients demo MCP server."
    )
    parser.add_argument("--http", action="store_true", help="serve Streamable HTTP on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default 0: a free one)")
    parser.add_argument(
        "--flaky-stall-s",
        type=float,
        default=FLAKY_STALL_S,
        help=f"seconds the first flaky call per key stalls (default {FLAKY_STALL_S:g})",
    )
    args = parser.parse_args(argv)
    mcp = build_server(flaky_stall_s=args.flaky_stall_s)
    if args.http:
        _serve_http(mcp, args.port)
    else:
        mcp.run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
