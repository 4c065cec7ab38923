"""The protocol layer (MCPClient) over StreamableHTTPTransport, through its public
``transport_factory``: era negotiation, progress and calls against real HTTP servers."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_http_helpers import HANDSHAKE, MODERN, ServerProcess

from syncclients.mcp import MCPClient
from syncclients.transports.streamable_http import StreamableHTTPTransport

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("era", "expected"), [("auto", MODERN), ("legacy", HANDSHAKE), (MODERN, MODERN)]
)
def test_sdk_server_in_every_era(sdk_streamable: ServerProcess, era: str, expected: str) -> None:
    url = sdk_streamable.base + "/mcp"
    progress: list[Any] = []
    with MCPClient(lambda: StreamableHTTPTransport(url), era=era) as client:
        assert client.protocol_version == expected
        assert "add" in {tool.name for tool in client.list_tools()}
        assert client.call_tool("add", {"a": 20, "b": 22}).structured_content == {"result": 42}
        result = client.call_tool("sleep", {"seconds": 0.1}, on_progress=progress.append)
        assert result.structured_content == {"result": "slept"}
        assert client.call_tool("echo", {"text": "grüße ✅"}).structured_content == {
            "result": "grüße ✅"
        }
    # The transport delivers all 5 progress notifications before the result (see
    # test_sdk_http.py); the dispatcher runs progress callbacks on its notification thread
    # and unregisters them when the call returns, so the last ones can be dropped here.
    assert 1 <= len(progress) <= 5


def test_server_everything_falls_back_to_the_handshake_era(everything: ServerProcess) -> None:
    url = everything.base + "/mcp"
    with MCPClient(lambda: StreamableHTTPTransport(url), era="auto") as client:
        assert client.protocol_version == HANDSHAKE
        result = client.call_tool("echo", {"message": "hi ✅"})
        assert result.content[0].text == "Echo: hi ✅"  # type: ignore[union-attr]
