"""The ``syncclients`` command without servers: parsing, input checks, formatting, exit codes."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from syncclients import (
    BatchOutcome,
    CircuitOpenError,
    ConnectError,
    ConnectTimeout,
    MCPError,
    ReadTimeout,
    ServerExitedError,
    UsageError,
)
from syncclients.cli import (
    EXIT_FAILED,
    EXIT_USAGE,
    CLIError,
    _exit_code_of,
    _split_words,
    format_table,
    inline_config,
    outcome_json,
    parse_args,
    parse_value,
    read_batch,
    typed_arguments,
)
from syncclients.mcp import CallToolResult, TextContent

from .conftest import Run


def _result(text: str, *, structured: Any = None, is_error: bool = False) -> CallToolResult:
    return CallToolResult((TextContent(text),), structured, is_error)


# -- parse_args --------------------------------------------------------------------------------


def test_common_options_work_before_and_after_the_command() -> None:
    before = parse_args(["--json", "--timeout", "5", "tools"])
    after = parse_args(["tools", "--json", "--timeout", "5"])
    for args in (before, after):
        assert args.command == "tools"
        assert args.json is True
        assert args.timeout == 5.0


def test_defaults_are_filled_in() -> None:
    args = parse_args(["ping"])
    assert args.config is None
    assert args.stdio is None
    assert args.url is None
    assert args.era == "auto"
    assert args.timeout == 60.0
    assert args.connect_timeout == 30.0
    assert args.json is False
    assert args.debug is False
    assert args.server is None


def test_call_collects_words_and_json_args() -> None:
    args = parse_args(["call", "srv", "add", "a=1", "--json-args", '{"b": 2}'])
    assert args.words == ["srv", "add", "a=1"]
    assert args.json_args == '{"b": 2}'


def test_batch_options() -> None:
    args = parse_args(
        ["batch", "in.jsonl", "-o", "out.jsonl", "--max-workers", "3", "--deadline", "9"]
    )
    assert (args.file, args.output, args.max_workers, args.deadline) == (
        "in.jsonl",
        "out.jsonl",
        3,
        9.0,
    )
    assert args.call_timeout is None
    assert args.fail_fast is False


def test_repeated_inline_servers() -> None:
    args = parse_args(["--stdio", "a b", "--stdio", "c", "--url", "http://x/mcp", "tools"])
    assert args.stdio == ["a b", "c"]
    assert args.url == ["http://x/mcp"]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["tools", "--timeout", "0"],
        ["tools", "--timeout", "soon"],
        ["batch"],
        ["batch", "f", "--max-workers", "0"],
        ["call"],
        ["--era", "1999", "tools"],
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: Callable[..., Run], argv: list[str]) -> None:
    run = cli(*argv)
    assert run.code == EXIT_USAGE
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("syncclients: error: ")
    assert "Traceback" not in run.err


def test_help_and_version_exit_0(
    cli: Callable[..., Run], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("--help").code == 0
    assert "batch" in capsys.readouterr().out
    assert cli("--version").code == 0
    assert "syncclients 0." in capsys.readouterr().out
    assert cli("call", "--help").code == 0
    assert "--json-args" in capsys.readouterr().out


# -- inline servers, key=value ----------------------------------------------------------------


def test_inline_config_names_and_splits_commands() -> None:
    config = inline_config(["uvx mcp-server-time --local-timezone 'Europe/Paris'", "x"], ["u"])
    assert config == {
        "mcpServers": {
            "stdio": {
                "command": "uvx",
                "args": ["mcp-server-time", "--local-timezone", "Europe/Paris"],
            },
            "stdio-2": {"command": "x", "args": []},
            "url": {"type": "http", "url": "u"},
        }
    }


@pytest.mark.parametrize("command", ["", "   ", "a 'unbalanced"])
def test_inline_config_rejects_bad_commands(command: str) -> None:
    with pytest.raises(CLIError):
        inline_config([command], None)


def test_config_and_inline_servers_are_exclusive(cli: Callable[..., Run]) -> None:
    run = cli("--config", "x.json", "--stdio", "cmd", "tools")
    assert run.code == EXIT_USAGE
    assert "either --config or inline" in run.err


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('["a", 1]', ["a", 1]),
        ('{"k": "v"}', {"k": "v"}),
        ('"007"', "007"),
        ("Ada", "Ada"),
        ("hello world", "hello world"),
        ("", ""),
        ("NaN", "NaN"),
        ("-Infinity", "-Infinity"),
    ],
)
def test_parse_value(text: str, value: Any) -> None:
    assert parse_value(text) == value


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "maybe_text": {"type": ["string", "null"]},
        "n": {"type": "integer"},
        "x": {"type": "number"},
        "ok": {"type": "boolean"},
        "opts": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "n_or_list": {"type": ["integer", "array"]},
        "text_or_n": {"type": ["string", "number"]},
        "choice": {"enum": ["a", "b"]},
        "any_of": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
}


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("message", "123", "123"),  # a string parameter gets the text as typed
        ("message", "true", "true"),
        ("message", '"quoted"', '"quoted"'),
        ("message", "", ""),
        ("maybe_text", "007", "007"),
        ("n", "42", 42),
        ("n", "-3", -3),
        ("n", "4.0", 4.0),  # JSON Schema: an integer is any number with a zero fraction
        ("x", "2.5", 2.5),
        ("x", "7", 7),
        ("ok", "false", False),
        ("opts", '{"k": 1}', {"k": 1}),
        ("tags", '["a", "b"]', ["a", "b"]),
        ("n_or_list", "[1]", [1]),
        ("n_or_list", "5", 5),
        # No plain type, a string-or-number union, or an undescribed parameter: as before.
        ("text_or_n", "5", 5),
        ("text_or_n", "five", "five"),
        ("choice", "a", "a"),
        ("any_of", "12", 12),
        ("unknown", "12", 12),
        ("unknown", "Ada", "Ada"),
    ],
)
def test_typed_arguments_follow_the_input_schema(key: str, text: str, value: Any) -> None:
    typed = typed_arguments({key: text}, SCHEMA, "t")
    assert typed == {key: value}
    assert type(typed[key]) is type(value)


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("n", "abc", "argument 'n' of tool 't' must be an integer (inputSchema type integer)"),
        ("n", "1.5", "must be an integer"),
        ("n", "true", "must be an integer"),
        ("n", "NaN", "must be an integer"),
        ("x", "1e", "must be a number"),
        ("x", '"3"', "must be a number"),
        ("ok", "yes", "must be true or false"),
        ("opts", "[1]", "must be a JSON object"),
        ("tags", "a,b", "must be a JSON array"),
        ("n_or_list", "{}", "must be an integer or a JSON array"),
    ],
)
def test_typed_arguments_that_do_not_fit_are_usage_errors(
    key: str, text: str, message: str
) -> None:
    with pytest.raises(CLIError, match=re.escape(message)) as caught:
        typed_arguments({key: text}, SCHEMA, "t")
    assert caught.value.exit_code == EXIT_USAGE
    assert repr(text) in str(caught.value)


def test_typed_arguments_without_a_schema_read_json_when_it_parses() -> None:
    assert typed_arguments({"a": "1", "b": "x"}, None) == {"a": 1, "b": "x"}
    assert typed_arguments({"a": "1"}, {"type": "object"}) == {"a": 1}


def test_split_words() -> None:
    assert _split_words(["add", "a=1", "b=x=y"], 2, "u") == (["add"], {"a": "1", "b": "x=y"})
    assert _split_words(["srv", "add"], 2, "u") == (["srv", "add"], {})
    with pytest.raises(CLIError, match="usage"):
        _split_words(["a", "b", "c"], 2, "u")
    with pytest.raises(CLIError, match="usage"):
        _split_words(["a=1"], 2, "u")
    with pytest.raises(CLIError, match="after the arguments"):
        _split_words(["add", "a=1", "stray"], 2, "u")
    with pytest.raises(CLIError, match="no key"):
        _split_words(["add", "=1"], 2, "u")


# -- batch input and output --------------------------------------------------------------------


def test_read_batch_defaults_the_only_server_and_skips_blank_lines() -> None:
    lines = ['{"tool": "add", "arguments": {"a": 1}}', "", '{"tool": "echo"}', "  "]
    calls = read_batch(lines, ["demo"], "f")
    assert [(c.server, c.tool, c.arguments) for c in calls] == [
        ("demo", "add", {"a": 1}),
        ("demo", "echo", {}),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "f:2: not valid JSON"),
        ("[1]", "f:2: expected a JSON object"),
        ('{"arguments": {}}', "f:2: 'tool' must be"),
        ('{"tool": "x", "arguments": [1]}', "f:2: 'arguments' must be a JSON object"),
        ('{"tool": "x", "args": {}}', "f:2: unknown keys"),
        ('{"tool": "x", "server": "gamma"}', "f:2: unknown server 'gamma'"),
        ('{"tool": "x"}', "f:2: no 'server', and 2 servers"),
    ],
)
def test_read_batch_reports_the_bad_line(line: str, message: str) -> None:
    ok = '{"server": "alpha", "tool": "add"}'
    with pytest.raises(CLIError, match=message):
        read_batch([ok, line], ["alpha", "beta"], "f")


def test_outcome_json_for_each_kind_of_outcome() -> None:
    structured = BatchOutcome(0, True, _result("5", structured={"result": 5}), None, 1, 0.5)
    text_only = BatchOutcome(1, True, _result("hi"), None, 2, 0.25)
    tool_error = BatchOutcome(2, False, _result("cannot divide", is_error=True), None, 1, 0.1)
    raised = BatchOutcome(3, False, None, MCPError("Unknown tool", code=-32602), 1, 0.2)
    assert outcome_json(structured) == {
        "index": 0,
        "ok": True,
        "status": "ok",
        "result": {"result": 5},
        "error": None,
        "attempts": 1,
        "duration_s": 0.5,
    }
    assert outcome_json(text_only)["result"] == "hi"
    assert outcome_json(text_only)["attempts"] == 2
    line = outcome_json(tool_error)
    assert (line["ok"], line["error"]) == (False, "tool error: cannot divide")
    assert line["status"] == "tool_error"
    line = outcome_json(raised)
    assert line["ok"] is False
    assert line["result"] is None
    assert line["error"].startswith("MCPError: ")
    json.dumps(line)  # JSON-ready


def test_format_table_aligns_columns() -> None:
    table = format_table(("A", "LONGER"), [("xyz", "1"), ("q", "22")])
    assert table.splitlines() == ["A    LONGER", "xyz  1", "q    22"]
    assert format_table(("A", "B"), []) == "A  B"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("bad"), EXIT_USAGE),
        (ConnectError("refused", target="t"), EXIT_USAGE),
        (ConnectTimeout("no handshake", target="t"), EXIT_USAGE),
        # Once the server was reached, a call that fails is exit 1 (connect failures are
        # mapped to 2 where the command starts its servers: see test_exit_codes.py).
        (ServerExitedError("gone", target="t", exit_code=1, stderr_tail=""), EXIT_FAILED),
        (ReadTimeout("slow", target="t"), EXIT_FAILED),
        (MCPError("nope", code=-32602), EXIT_FAILED),
        (CircuitOpenError("b", 1.0), EXIT_FAILED),
    ],
)
def test_exit_code_of_library_errors(error: BaseException, code: int) -> None:
    assert _exit_code_of(error) == code


def test_demo_without_the_sdk_tells_how_to_install(
    cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "mcp" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    run = cli("demo")
    assert run.code == EXIT_USAGE
    assert run.err.strip().splitlines() == [
        "syncclients: error: syncclients demo needs the official MCP SDK: "
        "pip install 'syncclients[demo]'"
    ]


def test_demo_refuses_server_options(cli: Callable[..., Run]) -> None:
    run = cli("demo", "--stdio", "x")
    assert run.code == EXIT_USAGE
    assert "demo starts its own server" in run.err


def test_demo_help_lists_exactly_the_options_demo_takes(
    cli: Callable[..., Run], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncclients.demo.run

    calls: list[dict[str, Any]] = []

    def fake_run_demo(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(syncclients.demo.run, "run_demo", fake_run_demo)
    assert cli("demo", "--help").code == 0
    listed = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", capsys.readouterr().out))
    assert listed == {"--help", "--json", "--debug", "--http", "--no-progress"}
    for option in sorted(listed - {"--help"}):
        run = cli("demo", option)
        assert run.code == 0, (option, run.err)
    # In sorted order: --debug, --http, --json, --no-progress.
    assert [c["http"] for c in calls] == [False, True, False, False]
    assert [c["json_output"] for c in calls] == [False, False, True, False]
    assert [c["progress"] for c in calls] == [None, None, None, False]


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--config", "x.json"],
        ["demo", "--url", "http://h/mcp"],
        ["demo", "--era", "legacy"],
        ["demo", "--timeout", "5"],
        ["--timeout", "5", "demo"],
        ["--connect-timeout", "5", "demo"],
        ["--stdio", "x", "demo"],
    ],
)
def test_demo_refuses_every_server_option_it_does_not_list(
    cli: Callable[..., Run], argv: list[str]
) -> None:
    run = cli(*argv)
    assert run.code == EXIT_USAGE
    (line,) = run.err.strip().splitlines()
    assert "demo starts its own server" in line
    assert f"drop {next(a for a in argv if a.startswith('--'))}" in line
