"""Serve the official-SDK test server (../servers/sdk_server.py) over HTTP on 127.0.0.1.

Usage: ``python serve_sdk.py MODE [PORT]`` with MODE one of ``streamable`` (Streamable HTTP with
sessions and SSE answers), ``stateless-json`` (``json_response=True, stateless_http=True``)
or ``sse`` (the legacy 2024-11-05 HTTP+SSE transport: ``/sse`` and ``/messages/``).

PORT (default 0: an ephemeral port) lets a test restart a server on the same port.
The socket is bound before uvicorn starts, so there is no race for a
port; the port number is printed as the first line of stdout.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "servers"))

from sdk_server import mcp


def main() -> None:
    mode = sys.argv[1]
    if mode == "streamable":
        app = mcp.streamable_http_app(host="127.0.0.1")
    elif mode == "stateless-json":
        app = mcp.streamable_http_app(json_response=True, stateless_http=True, host="127.0.0.1")
    elif mode == "sse":
        app = mcp.sse_app(host="127.0.0.1")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
