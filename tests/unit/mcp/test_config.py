"""Reading MCP server configurations: the ``mcpServers`` format and VS Code's ``servers``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from syncclients import MCPGroup, UsageError
from syncclients.mcp.config import load_servers, parse_servers

#: A VS Code ``.vscode/mcp.json``: servers under "servers", typed, with an inputs section.
VSCODE: dict[str, Any] = {
    "inputs": [{"type": "promptString", "id": "unused", "description": "not referenced"}],
    "servers": {
        "time": {
            "type": "stdio",
            "command": "uvx",
            "args": ["mcp-server-time", "--local-timezone=UTC"],
            "env": {"TZ": "UTC"},
        },
        "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-A": "b"}},
        "old": {"type": "sse", "url": "https://example.com/sse"},
    },
}


def test_vscode_format_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(VSCODE), encoding="utf-8")
    for entries in (load_servers(path), parse_servers(VSCODE)):
        assert list(entries) == ["time", "docs", "old"]
        time = entries["time"]
        assert (time.command, time.args, dict(time.env)) == (
            "uvx",
            ("mcp-server-time", "--local-timezone=UTC"),
            {"TZ": "UTC"},
        )
        assert (entries["docs"].url, dict(entries["docs"].headers)) == (
            "https://example.com/mcp",
            {"X-A": "b"},
        )
        assert entries["old"].url == "https://example.com/sse"


def test_vscode_format_builds_a_group_with_the_right_transports(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(VSCODE), encoding="utf-8")
    with MCPGroup.from_config(path) as group:  # nothing is started until first use
        assert group.servers == ["time", "docs", "old"]
        # type "sse" is the legacy HTTP+SSE transport (the legacy era); the others negotiate.
        eras = [re.findall(r"era='([\w-]+)'", repr(group.client(s))) for s in group.servers]
        assert eras == [["auto"], ["auto"], ["legacy"]]


def test_vscode_input_variables_are_rejected_with_a_clear_message() -> None:
    config = {
        "inputs": [{"type": "promptString", "id": "api-key", "password": True}],
        "servers": {
            "docs": {
                "type": "http",
                "url": "https://example.com/mcp",
                "headers": {"Authorization": "Bearer ${input:api-key}"},
            }
        },
    }
    with pytest.raises(UsageError) as caught:
        parse_servers(config, source="mcp.json")
    message = str(caught.value)
    assert message.startswith("mcp.json: servers.docs: ${input:api-key} is a VS Code input")
    assert "${VAR}" in message


@pytest.mark.parametrize(
    ("entry", "needs"),
    [
        ({"type": "http", "command": "x"}, "'url'"),
        ({"type": "sse"}, "'url'"),
        ({"type": "stdio", "url": "https://example.com/mcp"}, "'command'"),
    ],
)
def test_a_type_without_its_field_is_rejected(entry: dict[str, Any], needs: str) -> None:
    with pytest.raises(UsageError, match=f"needs a {needs}"):
        parse_servers({"servers": {"s": entry}})


def test_mcp_servers_format_and_inner_mapping_still_work() -> None:
    entry = {"command": sys.executable, "args": ["-V"]}
    assert list(parse_servers({"mcpServers": {"a": entry}})) == ["a"]
    assert list(parse_servers({"a": entry})) == ["a"]
    # A server literally named "servers" in an inner mapping is still a server.
    assert list(parse_servers({"servers": entry})) == ["servers"]
    with pytest.raises(UsageError, match=r"^<dict>: servers\.a: must be an object$"):
        parse_servers({"servers": {"a": "oops"}})


def test_a_file_with_neither_key_names_both(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"other": {}}), encoding="utf-8")
    with pytest.raises(UsageError, match=r"no 'mcpServers' \(or 'servers'\) object"):
        load_servers(path)
