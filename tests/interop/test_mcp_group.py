"""MCPGroup against real stdio servers: the SDK test server (twice) and mcp-server-time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from syncclients import MCPGroup, UsageError
from syncclients.mcp import MCPClient


@pytest.fixture
def config(sdk_cmd: list[str], time_cmd: list[str]) -> dict:
    return {
        "mcpServers": {
            "sdk": {"command": sdk_cmd[0], "args": sdk_cmd[1:]},
            "sdk__add": {"command": sdk_cmd[0], "args": sdk_cmd[1:]},  # provokes a collision
            "time": {"command": time_cmd[0], "args": time_cmd[1:]},
        }
    }


def test_qualified_names_are_unique_and_route_calls(config: dict) -> None:
    with MCPGroup.from_dict(config, hooks=()) as group:
        tools = group.list_tools()
        names = [t.name for t in tools]
        assert len(names) == len(set(names))
        assert "sdk__add" in names
        assert "time__get_current_time" in names
        # "sdk__add" server's "echo" and "sdk" server's... no clash; but "sdk" + "add__x"
        # style clashes get a suffix: every qualified name resolves to exactly one pair
        pairs = {(t.server, t.tool.name) for t in tools}
        assert len(pairs) == len(tools)
        assert group.call_qualified("sdk__add", {"a": 2, "b": 5}).text == "7"
        assert group.call_tool("sdk__add", "add", {"a": 1, "b": 1}).text == "2"
        result = group.call_qualified("time__get_current_time", {"timezone": "UTC"})
        assert result.structured_content is not None or result.text
        with pytest.raises(UsageError):
            group.call_qualified("nope__tool")
        with pytest.raises(UsageError):
            group.call_tool("missing", "add", {})


def test_group_batch_across_servers_keeps_order(config: dict) -> None:
    calls = []
    for i in range(30):
        if i % 3 == 0:
            calls.append(("sdk", "add", {"a": i, "b": 0}))
        elif i % 3 == 1:
            calls.append(("sdk__add", "echo", {"text": f"e{i}"}))
        else:
            calls.append(("time", "get_current_time", {"timezone": "Europe/Paris"}))
    with MCPGroup.from_dict(config, hooks=()) as group:
        outcomes = group.call_batch(calls, max_workers=8, deadline=60)
    assert len(outcomes) == 30
    for i, outcome in enumerate(outcomes):
        assert outcome.ok, outcome.error
        assert outcome.result is not None
        if i % 3 == 0:
            assert outcome.result.text == str(i)
        elif i % 3 == 1:
            assert outcome.result.text == f"e{i}"
    with MCPGroup.from_dict(config, hooks=()) as group, pytest.raises(UsageError):
        group.call_batch([("nowhere", "add", {})])


def test_health_reports_a_dead_server_without_raising(config: dict) -> None:
    config["mcpServers"]["broken"] = {
        "command": sys.executable,
        "args": ["-c", "import sys; sys.stderr.write('no luck\\n'); sys.exit(3)"],
    }
    with MCPGroup.from_dict(config, hooks=()) as group:
        report = {h.server: h for h in group.health(timeout_s=10)}
        tools = group.list_tools(skip_failed=True)
    assert list(report) == ["sdk", "sdk__add", "time", "broken"]
    assert report["sdk"].ok
    assert report["sdk"].protocol_version
    assert report["sdk"].breaker_state == "closed"
    assert report["time"].ok
    assert not report["broken"].ok
    assert report["broken"].error
    assert "broken" in group.listing_errors
    assert {t.server for t in tools} == {"sdk", "sdk__add", "time"}


def test_from_config_file_with_names(tmp_path: Path, config: dict) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with MCPGroup.from_config(path, names=["time"], hooks=()) as group:
        assert group.servers == ["time"]
        assert all(t.server == "time" for t in group.list_tools())
    with pytest.raises(UsageError):
        MCPGroup.from_config(path, names=["absent"])


def test_from_clients_does_not_close_borrowed_clients(sdk_cmd: list[str]) -> None:
    client = MCPClient.stdio(sdk_cmd, hooks=())
    try:
        with MCPGroup.from_clients({"one": client}) as group:
            assert group.call_tool("one", "add", {"a": 3, "b": 4}).text == "7"
        assert client.call_tool("add", {"a": 1, "b": 2}).text == "3"  # still usable
    finally:
        client.close()
