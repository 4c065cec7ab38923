"""Fixtures: fake provider servers scripted to ask for tool calls, and real MCP servers
(the official-SDK test server, mcp-server-time, server-everything) over stdio."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncclients import MCPGroup
from syncclients.llm import Provider
from syncclients.mcp import MCPClient
from syncclients.testing.llm_server import FakeLLMServer
from tests.interop.conftest import SDK_SERVER, TIME_SERVER
from tests.llm.conftest import make_provider

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = (
    ROOT / ".npm-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)


def group_config() -> dict:
    """``mcpServers`` with the three real servers."""
    if not EVERYTHING.exists():
        pytest.fail(f"{EVERYTHING} missing: run scripts/install-npm-servers.sh")
    return {
        "mcpServers": {
            "sdk": {"command": SDK_SERVER[0], "args": SDK_SERVER[1:]},
            "time": {"command": TIME_SERVER[0], "args": TIME_SERVER[1:]},
            "everything": {"command": "node", "args": [str(EVERYTHING), "stdio"]},
        }
    }


@pytest.fixture(scope="module")
def group() -> Iterator[MCPGroup]:
    """The three real servers as one group (shared by a module's tests)."""
    with MCPGroup.from_dict(group_config(), hooks=()) as g:
        yield g


@pytest.fixture(scope="module")
def sdk() -> Iterator[MCPClient]:
    """A lone client for the official-SDK test server."""
    client = MCPClient.stdio(SDK_SERVER, hooks=())
    with client:
        yield client


@pytest.fixture
def llm() -> Iterator[Callable[[str], tuple[FakeLLMServer, Provider]]]:
    """A factory of (fake server, provider on its SDK) pairs; all stopped at teardown."""
    made: list[tuple[FakeLLMServer, Provider]] = []

    def make(flavor: str) -> tuple[FakeLLMServer, Provider]:
        server = FakeLLMServer(flavor).start()  # type: ignore[arg-type]
        provider = make_provider(flavor, server)
        made.append((server, provider))
        return server, provider

    yield make
    for server, provider in made:
        provider.close()
        server.stop()
