"""Serve the official-SDK test server (../servers/sdk_server.py) over HTTP on 127.0.0.1.

Usage: ``python serve_sdk.py MODE [PORT]`` with MODE one of ``streamable`` (Streamable HTTP with
sessions and SSE answers; ``streamable-meta`` adds a tool ``echo_meta`` answering the
request's ``_meta`` as JSON), ``stateless-json`` (``json_response=True, stateless_http=True``)
``sse`` (the legacy 2024-11-05 HTTP+SSE transport: ``/sse`` and ``/messages/``),
``modern-only`` or ``handshake-only`` (Streamable HTTP behind a gate that refuses the other
era's requests, as a server supporting one era answers them), ``sse-oauth`` or
``streamable-oauth`` (behind an OAuth bearer gate: ``$OAUTH_ISSUER``, ``$OAUTH_TOKEN``).

PORT (default 0: an ephemeral port) lets a test restart a server on the same port.
The socket is bound before uvicorn starts, so there is no race for a
port; the port number is printed as the first line of stdout.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "servers"))

from mcp.server.mcpserver import Context
from sdk_server import mcp

MODERN = "2026-07-28"


class EraGate:
    """ASGI middleware: POSTs of the refused era get HTTP 400 with a JSON-RPC error.

    A modern-only server answers handshake-era requests with -32022 UnsupportedProtocolVersion
    listing what it supports; a handshake-only server answers the 2026-07-28 ``server/discover``
    probe as server-everything does (400, -32000 "Server not initialized").
    """

    def __init__(self, app: Any, *, modern: bool) -> None:
        self.app = app
        self.modern = modern

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        version = headers.get(b"mcp-protocol-version", b"").decode()
        if (version == MODERN) == self.modern:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        if self.modern:
            requested = version or str((request.get("params") or {}).get("protocolVersion", ""))
            error = {
                "code": -32022,
                "message": "Unsupported protocol version",
                "data": {"supported": [MODERN], "requested": requested},
            }
        else:
            error = {"code": -32000, "message": "Bad Request: Server not initialized"}
        payload = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class BearerGate:
    """ASGI middleware: an OAuth-protected resource (MCP authorization, RFC 9728). Serves its
    Protected Resource Metadata (naming ``$OAUTH_ISSUER``) and answers every other request
    without ``Authorization: Bearer $OAUTH_TOKEN`` with 401 and a ``resource_metadata``
    challenge."""

    def __init__(self, app: Any, *, resource_path: str) -> None:
        import os

        self.app = app
        self.resource_path = resource_path
        self.issuer = os.environ["OAUTH_ISSUER"]
        self.token = os.environ["OAUTH_TOKEN"].encode()

    async def _reply(self, send: Any, status: int, body: Any, headers: list[Any]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode()
        prm_path = "/.well-known/oauth-protected-resource" + self.resource_path
        if scope["path"] == prm_path:
            body = {
                "resource": f"http://{host}{self.resource_path}",
                "authorization_servers": [self.issuer],
            }
            await self._reply(send, 200, body, [])
            return
        if dict(scope["headers"]).get(b"authorization") != b"Bearer " + self.token:
            challenge = f'Bearer resource_metadata="http://{host}{prm_path}"'.encode()
            await self._reply(
                send, 401, {"error": "unauthorized"}, [(b"www-authenticate", challenge)]
            )
            return
        await self.app(scope, receive, send)


async def echo_meta(ctx: Context) -> str:
    """The request's ``params._meta`` as JSON (mode ``streamable-meta`` only)."""
    return json.dumps(dict(ctx.request_context.meta or {}), default=str)


def main() -> None:
    mode = sys.argv[1]
    if mode == "streamable-meta":  # streamable plus a tool that shows what _meta arrived
        mcp.tool()(echo_meta)
        mode = "streamable"
    if mode == "streamable":
        app = mcp.streamable_http_app(host="127.0.0.1")
    elif mode == "stateless-json":
        app = mcp.streamable_http_app(json_response=True, stateless_http=True, host="127.0.0.1")
    elif mode in ("modern-only", "handshake-only"):
        app = EraGate(mcp.streamable_http_app(host="127.0.0.1"), modern=mode == "modern-only")
    elif mode == "sse":
        app = mcp.sse_app(host="127.0.0.1")
    elif mode == "sse-oauth":
        app = BearerGate(mcp.sse_app(host="127.0.0.1"), resource_path="/sse")
    elif mode == "streamable-oauth":
        app = BearerGate(mcp.streamable_http_app(host="127.0.0.1"), resource_path="/mcp")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets; without it Nagle
    # and delayed ACK add 40 ms to every answer on a kept-alive connection
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
