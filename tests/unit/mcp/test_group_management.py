"""MCPGroup permissions, audit records, output validation and config diffs over scripted
servers (MockTransport); the same against real stdio servers is in
tests/interop/test_mcp_group_management.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from mcp_fakes import FakeServer

from syncclients import MCPGroup, UsageError
from syncclients.errors import MCPError, ProtocolError, ToolNotAllowedError, ToolOutputError
from syncclients.mcp import MCPClient, MockTransport
from syncclients.mcp.audit import AuditRecord, redact_arguments
from syncclients.mcp.config import parse_servers
from syncclients.mcp.messages import ErrorObject
from syncclients.mcp.permissions import ToolPermissions
from syncclients.mcp.registry import ReloadResult, diff_entries
from syncclients.transports.stdio import ResourceLimits

TOOLS = ["read_file", "read_secrets", "list_dir", "write_file"]


def counting_server(outputs: dict[str, Any] | None = None) -> tuple[FakeServer, list[str]]:
    """A server listing TOOLS and recording each tools/call it receives."""
    server = FakeServer()
    called: list[str] = []
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    server.handlers["tools/list"] = lambda r: {
        "tools": [
            {"name": n, "inputSchema": {"type": "object"}, "outputSchema": schema}
            if n == "write_file"
            else {"name": n, "inputSchema": {"type": "object"}}
            for n in TOOLS
        ]
    }

    def call(request: Any) -> dict[str, Any]:
        called.append(request.params["name"])
        result: dict[str, Any] = {"content": [{"type": "text", "text": "ok"}]}
        if outputs is not None and request.params["name"] in outputs:
            result["structuredContent"] = outputs[request.params["name"]]
        return result

    server.handlers["tools/call"] = call
    return server, called


def test_permissions_match_names_and_globs_deny_wins() -> None:
    p = ToolPermissions.of(allow=["read_*", "list_dir"], deny=["read_secrets"])
    assert [t for t in TOOLS if p.allows(t)] == ["read_file", "list_dir"]
    assert ToolPermissions().allows("anything")
    assert not ToolPermissions.of(allow=[]).allows("read_file")
    with pytest.raises(ToolNotAllowedError, match="deny pattern 'read_secrets'") as info:
        p.check("fs", "read_secrets")
    assert (info.value.server, info.value.tool) == ("fs", "read_secrets")
    assert isinstance(info.value, UsageError)
    with pytest.raises(ToolNotAllowedError, match="not in the allow list"):
        p.check("fs", "write_file")
    with pytest.raises(UsageError):
        ToolPermissions.of(allow="read_*")  # a string, not a list
    with pytest.raises(UsageError, match="includeTools"):
        ToolPermissions.from_entry({"includeTools": [1]})


def test_denied_tools_are_not_listed_and_calls_send_nothing() -> None:
    server, called = counting_server()
    records: list[AuditRecord] = []
    client = MCPClient(lambda: MockTransport(server), hooks=())
    perms = {"fs": ToolPermissions.of(allow=["read_*", "list_dir"], deny=["read_secrets"])}
    with MCPGroup.from_clients(
        {"fs": client}, owned=True, permissions=perms, audit_hooks=[records.append]
    ) as group:
        assert [t.name for t in group.list_tools()] == ["fs__read_file", "fs__list_dir"]
        with pytest.raises(ToolNotAllowedError):
            group.call_tool("fs", "read_secrets", {}, caller="bob")
        with pytest.raises(ToolNotAllowedError):
            group.call_qualified("fs__write_file", {})
        outcomes = group.call_batch(
            [("fs", "read_file", {}), ("fs", "read_secrets", {}), ("fs", "list_dir", None)],
            caller="carol",
        )
        assert [o.ok for o in outcomes] == [True, False, True]
        assert isinstance(outcomes[1].error, ToolNotAllowedError)
    assert called == ["read_file", "list_dir"]  # nothing sent for denied tools
    denied = [r for r in records if r.outcome == "denied"]
    assert [(r.tool, r.caller) for r in denied] == [
        ("read_secrets", "bob"),
        ("write_file", None),
        ("read_secrets", "carol"),
    ]
    assert all(r.duration_s == 0.0 and "not allowed" in (r.error or "") for r in denied)


def test_audit_records_redact_secrets_and_report_outcomes() -> None:
    server, _ = counting_server()
    server.handlers["tools/call"] = lambda r: (
        {"content": [{"type": "text", "text": "bad"}], "isError": True}
        if r.params["name"] == "list_dir"
        else {"content": [{"type": "text", "text": "ok"}]}
    )
    records: list[AuditRecord] = []

    def broken_hook(record: AuditRecord) -> None:
        raise RuntimeError("hook bug")

    client = MCPClient(lambda: MockTransport(server), hooks=())
    with MCPGroup.from_clients(
        {"fs": client}, owned=True, audit_hooks=[broken_hook, records.append]
    ) as group:
        args = {
            "path": "/tmp/x",
            "password": "hunter2",
            "nested": {"api_key": "sk-1", "url": "https://u:pw@example.com/?token=abc"},
        }
        assert group.call_tool("fs", "read_file", args, caller="alice").text == "ok"
        assert group.call_tool("fs", "list_dir", {}).is_error
    first, second = records
    assert first.server == "fs" and first.tool == "read_file" and first.caller == "alice"
    assert first.outcome == "success" and first.error is None and first.duration_s > 0
    assert first.arguments["password"] == "***"
    assert first.arguments["nested"]["api_key"] == "***"
    assert "pw@" not in first.arguments["nested"]["url"]
    assert "abc" not in first.arguments["nested"]["url"]
    assert first.arguments["path"] == "/tmp/x"
    assert "hunter2" not in repr(first)
    assert second.outcome == "tool_error"
    assert args["password"] == "hunter2"  # the caller's arguments are left alone


def test_audit_records_failures() -> None:
    server, _ = counting_server()
    server.handlers["tools/call"] = lambda r: ErrorObject(-32602, "no such thing")
    records: list[AuditRecord] = []
    client = MCPClient(lambda: MockTransport(server), hooks=())
    with MCPGroup.from_clients({"fs": client}, owned=True, audit_hooks=[records.append]) as g:
        with pytest.raises(MCPError, match="no such thing"):
            g.call_tool("fs", "read_file", {})
    assert [r.outcome for r in records] == ["failure"]
    assert records[0].error is not None and records[0].error.startswith("MCPError")


def test_redact_arguments_bounds_depth() -> None:
    deep: dict[str, Any] = {"x": 1}
    for _ in range(20):
        deep = {"d": deep}
    out = redact_arguments(deep)
    for _ in range(9):
        out = out["d"]
    assert out == "..."
    assert redact_arguments(None) == {}


def test_output_schema_validation_on_option() -> None:
    server, _ = counting_server(outputs={"write_file": {"n": "not a number"}})
    client = MCPClient(lambda: MockTransport(server), hooks=(), validate_output=True)
    with client:
        with pytest.raises(ToolOutputError, match="n: 'not a number' is not of type") as info:
            client.call_tool("write_file", {})
        assert isinstance(info.value, ProtocolError)
        assert info.value.result.structured_content == {"n": "not a number"}
        assert client.call_tool("read_file", {}).text == "ok"  # no outputSchema: no check
    missing, _ = counting_server(outputs={})
    with MCPClient(lambda: MockTransport(missing), hooks=(), validate_output=True) as client:
        with pytest.raises(ToolOutputError, match="no structuredContent"):
            client.call_tool("write_file", {})
    good, _ = counting_server(outputs={"write_file": {"n": 3}})
    with MCPClient(lambda: MockTransport(good), hooks=(), validate_output=True) as client:
        assert client.call_tool("write_file", {}).structured_content == {"n": 3}
    off, _ = counting_server(outputs={"write_file": {"n": "x"}})
    with MCPClient(lambda: MockTransport(off), hooks=()) as client:  # off by default
        assert client.call_tool("write_file", {}).structured_content == {"n": "x"}


def test_diff_entries_names_what_changed() -> None:
    old = parse_servers(
        {
            "a": {"command": "x", "args": ["1"]},
            "b": {"command": "y"},
            "c": {"url": "http://127.0.0.1:1/mcp"},
        }
    )
    new = parse_servers(
        {
            "a": {"command": "x", "args": ["2"]},
            "c": {"url": "http://127.0.0.1:1/mcp"},
            "d": {"command": "z"},
        }
    )
    current: dict[str, Any] = {**old, "given": None}
    assert diff_entries(current, new) == ReloadResult(
        added=("d",), removed=("b",), changed=("a",), unchanged=("c",)
    )
    perms = parse_servers({"c": {"url": "http://127.0.0.1:1/mcp", "excludeTools": ["w"]}})
    assert diff_entries(old, perms).changed == ("c",)


def test_resource_limits_from_config() -> None:
    limits = ResourceLimits.from_config({"memoryMB": 512, "cpuSeconds": 5, "openFiles": 64})
    assert limits == ResourceLimits(memory_bytes=512 * 1024 * 1024, cpu_s=5, open_files=64)
    assert ResourceLimits.from_config(None) is None
    for bad in ({"memoryMB": "1"}, {"cpuSeconds": 0}, {"files": 3}, [1]):
        with pytest.raises(UsageError):
            ResourceLimits.from_config(bad)


def test_management_errors_are_usage_errors() -> None:
    server, _ = counting_server()
    client = MCPClient(lambda: MockTransport(server), hooks=())
    group = MCPGroup.from_clients({"fs": client}, owned=True, audit_hooks=())
    with pytest.raises(UsageError, match="given as a client"):
        group.restart_server("fs")
    with pytest.raises(UsageError, match="not built from a file"):
        group.reload()
    with pytest.raises(UsageError, match="already in the group"):
        group.add_server("fs", {"command": "x"})
    with pytest.raises(UsageError, match="unknown MCP server"):
        group.remove_server("nope")
    group.close()
    with pytest.raises(UsageError, match="closed"):
        group.call_tool("fs", "read_file", {})
    with pytest.raises(UsageError, match="closed"):
        group.start_monitor()


def test_new_tools_appear_when_the_listing_ttl_runs_out() -> None:
    """2026-07-28 era: a listing is kept only as long as its ttlMs hint; afterwards the
    group's listing shows the server's new tools without a restart."""
    server = FakeServer(modern=True)
    names = ["one"]
    server.handlers["tools/list"] = lambda r: {
        "tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names],
        "ttlMs": 2500,
        "resultType": "complete",
    }
    client = MCPClient(lambda: MockTransport(server), hooks=(), era="2026-07-28")
    with MCPGroup.from_clients({"s": client}, owned=True, audit_hooks=()) as group:
        assert [t.name for t in group.list_tools()] == ["s__one"]
        names.append("two")
        assert [t.name for t in group.list_tools()] == ["s__one"]  # within the hint: kept
        assert server.methods().count("tools/list") == 1
        deadline = time.monotonic() + 10
        while len(group.list_tools()) < 2:
            assert time.monotonic() < deadline, "the listing was never refreshed"
            time.sleep(0.05)
        assert [t.name for t in group.list_tools()] == ["s__one", "s__two"]


def test_reload_of_a_file_keeps_to_the_chosen_names(tmp_path: Any) -> None:
    """Nothing starts: servers start on first use, and none is used here."""
    path = tmp_path / "mcp.json"

    def write(servers: dict[str, Any]) -> None:
        path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")

    write({"a": {"command": "never-a"}, "b": {"command": "never-b"}})
    with MCPGroup.from_config(path, names=["a"], audit_hooks=()) as group:
        write({"a": {"command": "never-a", "args": ["2"]}, "b": {"command": "never-b"},
               "c": {"command": "never-c"}})  # fmt: skip
        result = group.reload()
        assert result == ReloadResult(changed=("a",))
        assert group.servers == ["a"]
        assert group.client("a").target == "a"
    with pytest.raises(UsageError, match="drain_timeout_s"):
        MCPGroup.from_config(path, drain_timeout_s=-1)
