"""Fixtures for the MCP HTTP transport interop tests: real servers on 127.0.0.1.

- the official Python SDK test server (../servers/sdk_server.py) served over Streamable HTTP
  (sessions + SSE), stateless JSON, and the legacy HTTP+SSE transport (``serve_sdk.py``);
- the npm reference server ``@modelcontextprotocol/server-everything`` in streamableHttp
  mode, installed into ``.npm-servers/`` by ``scripts/install-npm-servers.sh``;
- a TCP proxy that can cut every connection, to drop SSE streams for real.

Every process is started in its own session and stopped by its process group id; every
wait is bounded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mcp_http_helpers import (
    CollectingSink,
    ServerProcess,
    TCPProxy,
    start_everything,
    start_sdk_server,
)


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


@pytest.fixture
def server_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mcp-http-interop-") as tmp:
        yield Path(tmp)


@pytest.fixture
def sdk_streamable(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("streamable", server_tmp)
    yield server
    server.stop()


@pytest.fixture
def sdk_stateless_json(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("stateless-json", server_tmp)
    yield server
    server.stop()


@pytest.fixture
def sdk_modern_only(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("modern-only", server_tmp)
    yield server
    server.stop()


@pytest.fixture
def sdk_handshake_only(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("handshake-only", server_tmp)
    yield server
    server.stop()


@pytest.fixture
def sdk_legacy_sse(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("sse", server_tmp)
    yield server
    server.stop()


@pytest.fixture
def everything(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_everything(server_tmp)
    yield server
    server.stop()


@pytest.fixture
def proxy_factory() -> Iterator[Callable[[int], TCPProxy]]:
    proxies: list[TCPProxy] = []

    def make(port: int) -> TCPProxy:
        proxy = TCPProxy(port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
