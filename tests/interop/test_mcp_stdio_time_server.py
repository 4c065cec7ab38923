"""MCPClient over stdio against mcp-server-time (PyPI), both eras."""

from __future__ import annotations

import pytest

from syncclients.errors import MCPError
from syncclients.mcp import MCPClient

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("era", ["auto", "legacy", "2026-07-28"])
def test_time_server(time_cmd: list[str], era: str) -> None:
    with MCPClient.stdio(time_cmd, era=era) as client:
        assert client.era == ("legacy" if era == "legacy" else "modern")
        assert client.server_info.name == "mcp-time"
        tools = {t.name: t for t in client.list_tools()}
        assert set(tools) == {"get_current_time", "convert_time"}
        assert "timezone" in tools["get_current_time"].input_schema["properties"]
        now = client.call_tool("get_current_time", {"timezone": "UTC"})
        assert not now.is_error and '"timezone": "UTC"' in now.text
        converted = client.call_tool(
            "convert_time",
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
        )
        assert "21:00" in converted.text
        bad_zone = client.call_tool("get_current_time", {"timezone": "Not/AZone"})
        assert bad_zone.is_error
        with pytest.raises(MCPError) as info:  # this server answers an unknown tool -32602
            client.call_tool("no_such_tool", {})
        assert info.value.code == -32602
        assert client.call_tool("get_current_time", {"timezone": "UTC"}).text
