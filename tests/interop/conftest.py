"""Fixtures for interop tests: real MCP servers over stdio, started and stopped per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncclients.mcp import MCPClient, clear_era_cache

SERVERS = Path(__file__).parent / "servers"
SDK_SERVER = [sys.executable, str(SERVERS / "sdk_server.py")]
TIME_SERVER = [str(Path(sys.executable).parent / "mcp-server-time"), "--local-timezone", "UTC"]


@pytest.fixture(autouse=True)
def _fresh_era_cache() -> Iterator[None]:
    clear_era_cache()
    yield
    clear_era_cache()


@pytest.fixture
def sdk_cmd() -> list[str]:
    """The command that starts the official-SDK test server over stdio."""
    return list(SDK_SERVER)


@pytest.fixture
def time_cmd() -> list[str]:
    """The command that starts mcp-server-time over stdio."""
    return list(TIME_SERVER)


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    """Both MCP eras, requested explicitly."""
    return str(request.param)


@pytest.fixture
def sdk_client(era: str) -> Iterator[MCPClient]:
    """A connected client for the official-SDK test server in ``era``."""
    client = MCPClient.stdio(SDK_SERVER, era=era)
    try:
        yield client.connect()
    finally:
        client.close()
