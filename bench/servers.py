"""Servers for the benchmarks, each run as its own process (so client CPU is attributable).

``python bench/servers.py mcp-stdio``: the official-SDK (``mcp``) MCPServer over stdio.
``python bench/servers.py mcp-http``: the same server over Streamable HTTP (uvicorn) on
127.0.0.1, ephemeral port; ``GET /bench/stats`` reports the TCP connections seen.
``python bench/servers.py light-stdio``: a minimal hand-written MCP stdio server (no SDK,
a thread per call, next to no CPU per request), so a batch measures the clients, not the
server.
``python bench/servers.py plain-http``: :class:`syncclients.testing.LocalHTTPServer` with
``GET /item`` (a small JSON body) and ``GET /bench/stats``.

HTTP modes print ``port <N>`` as their first stdout line once they accept connections.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from typing import Any


def build_mcp() -> Any:
    from mcp.server.mcpserver import MCPServer

    mcp = MCPServer("bench-server", version="1.0.0")

    @mcp.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @mcp.tool()
    async def sleep_ms(ms: int) -> str:
        """Wait ``ms`` milliseconds without blocking other requests."""
        await asyncio.sleep(ms / 1000)
        return f"slept {ms}"

    return mcp


def _bound_socket() -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says proto == IPPROTO_TCP (asyncio.base_events._set_nodelay); a plain
    # socket(AF_INET, SOCK_STREAM) has proto 0, and every reused connection then pays
    # Nagle + delayed ACK (~40 ms) between the SSE response headers and its first event.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def serve_mcp_http() -> None:
    import uvicorn

    inner = build_mcp().streamable_http_app(host="127.0.0.1")
    peers: set[tuple[str, int]] = set()
    counts = {"requests": 0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["path"] == "/bench/stats":
                body = json.dumps({"connections": len(peers), "requests": counts["requests"]})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
                return
            client = scope.get("client")
            if client:
                peers.add((client[0], client[1]))
            counts["requests"] += 1
        await inner(scope, receive, send)

    sock = _bound_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )

    async def serve() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        print(f"port {sock.getsockname()[1]}", flush=True)
        await task

    asyncio.run(serve())


def serve_plain_http() -> None:
    from syncclients.testing import LocalHTTPServer, Reply

    server = LocalHTTPServer()
    payload = {"id": 42, "name": "widget", "tags": ["a", "b", "c"], "price": 9.5}
    served = [0]

    def item(_req: Any) -> Reply:
        served[0] += 1
        return Reply(200, payload)

    server.routes[("GET", "/item")] = item
    server.routes[("GET", "/bench/stats")] = lambda _req: Reply(
        200, {"connections": server.connections_opened, "requests": served[0]}
    )
    server.start()
    print(f"port {server.url.rsplit(':', 1)[1]}", flush=True)
    # LocalHTTPServer keeps every request: forget them so a long run does not grow
    stop = threading.Event()

    def trim() -> None:
        while not stop.wait(1.0):
            with server._lock:
                del server.requests[:-10]

    threading.Thread(target=trim, daemon=True).start()
    try:
        sys.stdin.read()  # run until the parent closes our stdin (or kills us)
    finally:
        stop.set()
        server.stop()


def serve_light_stdio() -> None:
    lock = threading.Lock()

    def write(obj: Any) -> None:
        line = json.dumps(obj) + "\n"
        with lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def text(rid: Any, value: str) -> None:
        write(
            {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": value}]}}
        )

    tools = [
        {"name": "echo", "inputSchema": {"type": "object"}},
        {"name": "sleep_ms", "inputSchema": {"type": "object"}},
    ]
    for line in sys.stdin:
        msg = json.loads(line)
        rid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
        if rid is None:
            continue
        if method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "light", "version": "1"},
            }
            write({"jsonrpc": "2.0", "id": rid, "result": result})
        elif method == "tools/list":
            write({"jsonrpc": "2.0", "id": rid, "result": {"tools": tools}})
        elif method == "tools/call" and params.get("name") == "sleep_ms":
            ms = int(params.get("arguments", {}).get("ms", 0))
            timer = threading.Timer(ms / 1000, text, (rid, f"slept {ms}"))
            timer.daemon = True
            timer.start()
        elif method == "tools/call":
            text(rid, str(params.get("arguments", {}).get("text", "")))
        elif method == "ping":
            write({"jsonrpc": "2.0", "id": rid, "result": {}})
        else:
            write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": method}})


def main() -> None:
    mode = sys.argv[1]
    if mode == "mcp-stdio":
        build_mcp().run()
    elif mode == "light-stdio":
        serve_light_stdio()
    elif mode == "mcp-http":
        serve_mcp_http()
    elif mode == "plain-http":
        serve_plain_http()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
