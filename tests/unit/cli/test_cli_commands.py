"""Every ``syncclients`` command, in-process, against the bundled demo server over stdio."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from syncclients.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

from .conftest import DEMO_STDIO, Run


def _one_error_line(run: Run) -> str:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    assert lines[0].startswith("syncclients: ")
    return lines[0]


# -- servers -----------------------------------------------------------------------------------


def test_servers_lists_the_config_without_starting_anything(
    cli: Callable[..., Run], two_config: str
) -> None:
    run = cli("--config", two_config, "servers")
    assert run.code == EXIT_OK
    lines = run.out.splitlines()
    assert lines[0].split() == ["SERVER", "TRANSPORT", "TARGET"]
    assert [line.split()[:2] for line in lines[1:]] == [["alpha", "stdio"], ["beta", "stdio"]]
    assert "syncclients.demo.server" in lines[1]


def test_servers_json_with_inline_servers(cli: Callable[..., Run]) -> None:
    run = cli("servers", "--json", "--stdio", "uvx mcp-server-time", "--url", "http://h/mcp")
    assert run.code == EXIT_OK
    assert run.json() == [
        {"server": "stdio", "transport": "stdio", "target": "uvx mcp-server-time"},
        {"server": "url", "transport": "http", "target": "http://h/mcp"},
    ]


def test_missing_config_is_a_one_line_usage_error(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--config", str(tmp_path / "absent.json"), "tools")
    assert run.code == EXIT_USAGE
    assert "cannot read MCP config" in _one_error_line(run)


def test_default_config_from_mcp_config_or_dot_mcp_json(
    cli: Callable[..., Run],
    demo_config: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MCP_CONFIG", raising=False)
    run = cli("servers")
    assert run.code == EXIT_USAGE
    assert "no MCP servers: no '.mcp.json'; pass --config PATH" in _one_error_line(run)
    monkeypatch.setenv("MCP_CONFIG", demo_config)
    assert cli("servers").out.splitlines()[1].split()[:2] == ["demo", "stdio"]
    monkeypatch.delenv("MCP_CONFIG")
    (tmp_path / ".mcp.json").write_text(Path(demo_config).read_text())
    run = cli("call", "add", "a=1", "b=1")
    assert (run.code, run.out) == (EXIT_OK, "2\n")


# -- tools -------------------------------------------------------------------------------------


def test_tools_table_of_one_server(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "tools")
    assert run.code == EXIT_OK, run.err
    rows = {line.split()[1]: line for line in run.out.splitlines()[1:]}
    assert set(rows) == {"add", "echo", "slow", "lookup", "divide", "flaky"}
    assert "read-only" in rows["lookup"]
    assert "idempotent" in rows["flaky"]
    assert run.out.splitlines()[0].split() == ["SERVER", "TOOL", "HINTS", "DESCRIPTION"]


def test_tools_of_two_servers_are_qualified_and_unique(
    cli: Callable[..., Run], two_config: str
) -> None:
    run = cli("--config", two_config, "tools", "--json")
    assert run.code == EXIT_OK, run.err
    tools = run.json()
    names = [t["name"] for t in tools]
    assert len(names) == len(set(names)) == 12
    assert {t["server"] for t in tools} == {"alpha", "beta"}
    add = next(t for t in tools if t["server"] == "beta" and t["tool"] == "add")
    assert add["name"] != "add"
    assert add["annotations"] == {"readOnlyHint": True}
    assert add["input_schema"]["required"] == ["a", "b"]


def test_tools_of_reachable_servers_when_one_fails(cli: Callable[..., Run], tmp_path: Path) -> None:
    from .conftest import DEMO_ENTRY

    path = tmp_path / "mixed.json"
    broken = {"command": str(tmp_path / "no-such-server")}
    path.write_text(json.dumps({"mcpServers": {"ok": DEMO_ENTRY, "broken": broken}}))
    run = cli("--config", str(path), "tools")
    assert run.code == EXIT_FAILED
    assert {line.split()[0] for line in run.out.splitlines()[1:]} == {"ok"}
    warning = _one_error_line(run)
    assert warning.startswith("syncclients: warning: broken: ConnectError: ")


def test_tools_of_one_named_server(cli: Callable[..., Run], two_config: str) -> None:
    run = cli("--config", two_config, "tools", "beta", "--json")
    assert run.code == EXIT_OK, run.err
    assert {t["server"] for t in run.json()} == {"beta"}
    assert {t["name"] for t in run.json()} >= {"add", "flaky"}


def test_unknown_server_is_a_usage_error(cli: Callable[..., Run], two_config: str) -> None:
    run = cli("--config", two_config, "tools", "gamma")
    assert run.code == EXIT_USAGE
    assert "no server 'gamma' (configured: alpha, beta)" in _one_error_line(run)


# -- call --------------------------------------------------------------------------------------


def test_call_with_key_values(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "add", "a=2", "b=40")
    assert (run.code, run.out, run.err) == (EXIT_OK, "42\n", "")


def test_call_with_json_args_and_json_output(cli: Callable[..., Run], two_config: str) -> None:
    run = cli(
        "--config",
        two_config,
        "--json",
        "call",
        "beta",
        "lookup",
        "--json-args",
        '{"item": "eggs"}',
    )
    assert run.code == EXIT_OK, run.err
    data = run.json()
    assert data["server"] == "beta"
    assert data["tool"] == "lookup"
    assert data["is_error"] is False
    assert data["result"] == {"item": "eggs", "price": 3.0, "stock": 60, "unit": "dozen"}
    assert data["content"][0]["type"] == "text"


def test_key_values_override_json_args(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "echo", "--json-args", '{"text": "a"}', "text=b")
    assert (run.code, run.out) == (EXIT_OK, "b\n")


def test_call_by_qualified_name(cli: Callable[..., Run], two_config: str) -> None:
    listed = cli("--config", two_config, "tools", "--json").json()
    qualified = next(t["name"] for t in listed if t["server"] == "alpha" and t["tool"] == "echo")
    run = cli("--config", two_config, "call", qualified, "text=hi there")
    assert (run.code, run.out) == (EXIT_OK, "hi there\n")


def test_call_without_server_among_several_names_the_choice(
    cli: Callable[..., Run], two_config: str
) -> None:
    run = cli("--config", two_config, "call", "add", "a=1", "b=2")
    assert run.code == EXIT_USAGE
    line = _one_error_line(run)
    assert "no tool 'add'" in line
    assert "call SERVER TOOL" in line


def test_tool_error_exits_1_with_one_line(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "divide", "a=1", "b=0")
    assert run.code == EXIT_FAILED
    assert run.out == ""
    assert "tool 'divide' returned an error" in _one_error_line(run)
    assert "cannot divide by zero" in run.err


def test_tool_error_in_json_mode_is_data(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "--json", "call", "divide", "a=1", "b=0")
    assert run.code == EXIT_FAILED
    assert run.json()["is_error"] is True
    assert "cannot divide by zero" in run.json()["result"]


def test_unknown_tool_exits_1_with_one_line(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "nope")
    assert run.code == EXIT_FAILED
    assert "nope" in _one_error_line(run)


def test_call_sends_digits_to_a_string_parameter_as_a_string(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "echo", "text=123")
    assert (run.code, run.out, run.err) == (0, "123\n", "")


def test_call_refuses_a_value_that_does_not_fit_before_calling(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "add", "a=x", "b=2")
    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert run.err == (
        "syncclients: error: argument 'a' of tool 'add' must be an integer "
        "(inputSchema type integer), got 'x'\n"
    )


def test_bad_json_args(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "call", "add", "--json-args", "{oops")
    assert run.code == EXIT_USAGE
    assert "--json-args is not valid JSON" in _one_error_line(run)


# -- connection errors -------------------------------------------------------------------------


def test_a_server_that_cannot_start_is_exit_2_with_one_line(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    run = cli("--stdio", str(tmp_path / "no-such-server"), "tools")
    assert run.code == EXIT_USAGE
    assert "no-such-server" in _one_error_line(run)


def test_a_server_that_exits_at_once_is_exit_2(cli: Callable[..., Run]) -> None:
    command = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    run = cli("--stdio", command, "--connect-timeout", "20", "tools")
    assert run.code == EXIT_USAGE
    _one_error_line(run)


def test_debug_adds_the_traceback(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--debug", "--stdio", str(tmp_path / "no-such-server"), "tools")
    assert run.code == EXIT_USAGE
    assert "Traceback" in run.err
    assert run.err.strip().splitlines()[-1].startswith("syncclients: error: ")


def test_an_unreachable_url_is_exit_2_with_one_line(cli: Callable[..., Run]) -> None:
    # Port 9 (discard) on 127.0.0.1: nothing listens in the test environment.
    run = cli("--url", "http://127.0.0.1:9/mcp", "--connect-timeout", "5", "tools")
    assert run.code == EXIT_USAGE
    _one_error_line(run)


# -- batch -------------------------------------------------------------------------------------


def _write_lines(path: Path, items: list[object]) -> str:
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")
    return str(path)


def test_batch_writes_one_line_per_input_in_order(
    cli: Callable[..., Run], two_config: str, tmp_path: Path
) -> None:
    source = _write_lines(
        tmp_path / "in.jsonl",
        [
            {"server": "alpha", "tool": "slow", "arguments": {"ms": 300}},
            {"server": "beta", "tool": "add", "arguments": {"a": 1, "b": 2}},
            {"server": "alpha", "tool": "divide", "arguments": {"a": 1, "b": 0}},
            {"server": "beta", "tool": "echo", "arguments": {"text": "x"}},
            {"server": "alpha", "tool": "nope"},
        ],
    )
    run = cli("--config", two_config, "batch", source, "--no-progress")
    assert run.code == EXIT_FAILED
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert [line["ok"] for line in lines] == [True, True, False, True, False]
    assert lines[0]["result"] == {"result": "waited 300 ms"}
    assert lines[0]["duration_s"] >= 0.3
    assert lines[1]["result"] == {"result": 3}
    assert lines[1]["error"] is None
    assert lines[1]["attempts"] == 1
    assert lines[2]["error"].startswith("tool error: ")
    assert "cannot divide by zero" in lines[2]["error"]
    assert "nope" in lines[4]["error"]
    for line in lines:
        assert set(line) == {
            "index", "ok", "status", "result", "error", "attempts", "duration_s"
        }  # fmt: skip
    assert [line["status"] for line in lines] == ["ok", "ok", "tool_error", "ok", "tool_error"]
    assert run.err.strip() == "syncclients: 2 of 5 calls failed (2 tool_error)"


def test_batch_all_ok_to_an_output_file_with_a_progress_bar(
    cli: Callable[..., Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items: list[object] = [{"tool": "add", "arguments": {"a": i, "b": i}} for i in range(20)]
    source = _write_lines(tmp_path / "in.jsonl", items)
    target = tmp_path / "out.jsonl"
    run = cli("--stdio", DEMO_STDIO, "batch", source, "--output", str(target))
    assert (run.code, run.out, run.err) == (EXIT_OK, "", "")
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [line["result"] for line in lines] == [{"result": 2 * i} for i in range(20)]
    assert "20/20" in capsys.readouterr().err  # the tqdm bar, on the real stderr


def test_batch_retries_a_flaky_idempotent_tool(cli: Callable[..., Run], tmp_path: Path) -> None:
    source = _write_lines(tmp_path / "in.jsonl", [{"tool": "flaky", "arguments": {"key": "k"}}])
    run = cli("--stdio", DEMO_STDIO, "--timeout", "1", "batch", source, "--no-progress")
    assert run.code == EXIT_OK, run.err
    (line,) = [json.loads(line) for line in run.out.splitlines()]
    assert (line["ok"], line["attempts"]) == (True, 2)
    assert line["result"] == {"result": "k: ok on retry"}


def test_batch_rejects_a_bad_line_before_calling(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"tool": "add"}\n{"tool": 3}\n', encoding="utf-8")
    run = cli("--stdio", DEMO_STDIO, "batch", str(path))
    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert f"{path}:2: 'tool' must be a non-empty string" in _one_error_line(run)


def test_batch_missing_file(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--stdio", DEMO_STDIO, "batch", str(tmp_path / "absent.jsonl"))
    assert run.code == EXIT_USAGE
    assert "cannot read" in _one_error_line(run)


# -- resources, prompts, ping ------------------------------------------------------------------


def test_resources_and_read(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "resources")
    assert run.code == EXIT_OK, run.err
    assert "demo://readme" in run.out
    assert "demo://items/{item_id}" in run.out
    read = cli("--stdio", DEMO_STDIO, "read", "demo://readme")
    assert read.code == EXIT_OK, read.err
    assert read.out.startswith("syncclients demo server\n")
    item = cli("--stdio", DEMO_STDIO, "--json", "read", "demo://items/bread")
    assert item.code == EXIT_OK, item.err
    (contents,) = item.json()["contents"]
    assert json.loads(contents["text"])["price"] == 2.2


def test_read_missing_resource_exits_1(cli: Callable[..., Run]) -> None:
    run = cli("--stdio", DEMO_STDIO, "read", "demo://nothing")
    assert run.code == EXIT_FAILED
    _one_error_line(run)


def test_prompts_and_get_prompt(cli: Callable[..., Run], two_config: str) -> None:
    run = cli("--config", two_config, "prompts")
    assert run.code == EXIT_OK, run.err
    rows = [line.split() for line in run.out.splitlines()[1:3]]
    assert [row[:3] for row in rows] == [
        ["alpha", "summarize", "topic*"],
        ["beta", "summarize", "topic*"],
    ]
    got = cli("--config", two_config, "get-prompt", "beta", "summarize", "topic=MCP", "style=long")
    assert got.code == EXIT_OK, got.err
    assert got.out == "[user]\nWrite a long summary of MCP, in plain words.\n"
    as_json = cli("--stdio", DEMO_STDIO, "--json", "get-prompt", "summarize", "topic=x")
    assert as_json.json()["messages"][0]["content"]["text"].startswith("Write a brief")


def test_ping_reports_every_server(cli: Callable[..., Run], two_config: str) -> None:
    run = cli("--config", two_config, "ping", "--json")
    assert run.code == EXIT_OK, run.err
    health = run.json()
    assert [h["server"] for h in health] == ["alpha", "beta"]
    for h in health:
        assert h["ok"] is True
        assert h["breaker_state"] == "closed"
        assert h["protocol_version"]
        assert 0 < h["latency_s"] < 30
    table = cli("--config", two_config, "ping", "alpha")
    assert table.code == EXIT_OK
    assert table.out.splitlines()[1].split()[:2] == ["alpha", "ok"]


def test_ping_failure_exits_1(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--stdio", str(tmp_path / "no-such-server"), "ping")
    assert run.code == EXIT_FAILED
    assert "FAILED" in run.out


def test_a_vscode_config_file_works(cli: Callable[..., Run], tmp_path: Path) -> None:
    from .conftest import DEMO_ENTRY

    path = tmp_path / "mcp.json"
    config = {"inputs": [], "servers": {"demo": {"type": "stdio", **DEMO_ENTRY}}}
    path.write_text(json.dumps(config), encoding="utf-8")
    run = cli("--config", str(path), "call", "add", "a=1", "b=2")
    assert (run.code, run.out, run.err) == (EXIT_OK, "3\n", "")
    listed = cli("--config", str(path), "servers", "--json")
    assert [(r["server"], r["transport"]) for r in listed.json()] == [("demo", "stdio")]
