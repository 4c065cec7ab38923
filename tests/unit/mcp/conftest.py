"""Fixtures for MCP unit tests: clients over MockTransport driven by a FakeServer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp_fakes import FakeServer

from syncclients.mcp import MCPClient, MockTransport, clear_era_cache


@pytest.fixture(autouse=True)
def _fresh_era_cache() -> Iterator[None]:
    clear_era_cache()
    yield
    clear_era_cache()


@pytest.fixture
def make_client() -> Iterator[Callable[..., tuple[MCPClient, MockTransport]]]:
    """Build clients over a MockTransport driven by a FakeServer; closes them afterwards."""
    clients: list[MCPClient] = []

    def make(server: FakeServer, **options: Any) -> tuple[MCPClient, MockTransport]:
        transports: list[MockTransport] = []

        def factory() -> MockTransport:
            transport = MockTransport(server)
            transports.append(transport)
            return transport

        options.setdefault("hooks", ())
        client = MCPClient(factory, **options)
        clients.append(client)
        client.connect()
        return client, transports[-1]

    yield make
    for client in clients:
        client.close()
