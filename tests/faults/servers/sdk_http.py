"""The official-SDK (mcp 2.3.0) MCPServer over Streamable HTTP on 127.0.0.1:PORT.

Usage: ``python sdk_http.py PORT``; prints ``listening`` once it accepts connections.
Tools: ``slow(ms)`` (``idempotentHint``), ``slow_once(ms)`` (no hint), ``echo(text)``.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

mcp = MCPServer("faults-sdk-server")


@mcp.tool(annotations=ToolAnnotations(idempotentHint=True))
async def slow(ms: int) -> str:
    """Wait ms milliseconds (safe to repeat)."""
    await asyncio.sleep(ms / 1000)
    return f"slept {ms}"


@mcp.tool()
async def slow_once(ms: int) -> str:
    """Wait ms milliseconds (not known to be safe to repeat)."""
    await asyncio.sleep(ms / 1000)
    return f"slept {ms}"


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


def main() -> None:
    # IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only for such listeners
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(128)
    server = uvicorn.Server(
        uvicorn.Config(mcp.streamable_http_app(host="127.0.0.1"), log_level="warning")
    )

    async def serve() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        print("listening", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
