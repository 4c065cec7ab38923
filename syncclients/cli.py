"""The ``syncclients`` command: talk to MCP servers from a shell, one blocking call at a time.

Usage (``syncclients --help`` and ``syncclients COMMAND --help`` for every option)::

    syncclients [--config PATH | --stdio "CMD ARGS" | --url URL] [--json] [--debug] COMMAND

    servers                              the configured servers
    tools [SERVER]                       their tools (server-qualified names)
    call [SERVER] TOOL [key=value ...]   call a tool (or --json-args '{...}')
    batch FILE.jsonl                     many calls: JSONL in, JSONL out, in order
    resources [SERVER]                   resources and resource templates
    read [SERVER] URI                    read a resource
    prompts [SERVER]                     prompts and their arguments
    get-prompt [SERVER] NAME [key=value ...]
    ping [SERVER]                        health: latency, protocol, breaker state
    demo [--http]                        start the bundled demo server and run a batch on it

Servers come from an ``mcpServers`` JSON file (``--config``; default: the standard
locations, see :mod:`syncclients.mcp.config`) or inline: ``--stdio "uvx mcp-server-time"``
(split like a shell would) and ``--url http://127.0.0.1:8000/mcp`` (both repeatable; named
``stdio``, ``stdio-2``, ..., ``url``, ``url-2``, ...).

``key=value`` arguments: the value is read as JSON when it parses (``n=3``, ``ok=true``,
``tags='["a","b"]'``), else taken as a string (``name=Ada``); quote JSON strings to keep
digits a string (``zip='"01234"'``).

Exit codes: 0 success; 1 a call failed or a tool returned ``isError`` (for ``batch`` and
``ping``: at least one did); 2 a usage error, a configuration error, or a server that could
not be reached; 130 interrupted. Errors print one line on stderr; ``--debug`` adds the
traceback and the library's debug log.

This module uses the public API only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from syncclients import (
    BatchInterrupted,
    BatchOutcome,
    ConnectError,
    MCPError,
    MCPGroup,
    SyncClientsError,
    Timeout,
    Timeouts,
    TransportError,
    UsageError,
    __version__,
)
from syncclients.mcp import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from syncclients.mcp.config import config_path, load_servers, parse_servers

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

#: Everything worked.
EXIT_OK = 0
#: A call failed, or a tool answered ``isError``.
EXIT_FAILED = 1
#: Bad usage or configuration, or a server that could not be reached.
EXIT_USAGE = 2
#: Ctrl-C.
EXIT_INTERRUPTED = 130

_PROG = "syncclients"
_DESCRIPTION_WIDTH = 60


class CLIError(Exception):
    """A failure reported as one line on stderr.

    Attributes:
        exit_code: the process exit code.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- argument parsing ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`CLIError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _common_options() -> _Parser:
    """Options accepted before and after the command (their defaults are set later)."""
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    where = common.add_argument_group("servers")
    where.add_argument(
        "--config", metavar="PATH", help="an mcpServers JSON file (default: standard locations)"
    )
    where.add_argument(
        "--stdio",
        metavar='"CMD ARGS"',
        action="append",
        help="an inline stdio server command, split like a shell (repeatable)",
    )
    where.add_argument(
        "--url", metavar="URL", action="append", help="an inline Streamable HTTP server"
    )
    where.add_argument(
        "--era",
        choices=("auto", "legacy", "2026-07-28"),
        help="MCP protocol era (default auto: probe, then fall back)",
    )
    where.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_float,
        help="seconds to wait for each answer (default 60)",
    )
    where.add_argument(
        "--connect-timeout",
        metavar="S",
        type=_positive_float,
        help="seconds to start and connect to a server (default 30)",
    )
    out = common.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print JSON instead of tables")
    out.add_argument(
        "--debug", action="store_true", help="debug logging on stderr, tracebacks on errors"
    )
    return common


_DEFAULTS: dict[str, Any] = {
    "config": None,
    "stdio": None,
    "url": None,
    "era": "auto",
    "timeout": 60.0,
    "connect_timeout": 30.0,
    "json": False,
    "debug": False,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``syncclients`` argument parser.

    Returns:
        The parser; its errors raise :class:`CLIError` (exit code 2).
    """
    common = _common_options()
    parser = _Parser(
        prog=_PROG,
        description="Blocking MCP client: list and call tools, resources and prompts of MCP "
        "servers from a config file or given inline.",
        parents=[common],
        epilog="Exit codes: 0 ok, 1 a call failed or a tool returned isError, 2 usage or "
        "connection error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        return p

    add("servers", "list the configured servers")
    p = add("tools", "list tools (all servers, or one)")
    p.add_argument("server", nargs="?", metavar="SERVER")
    p = add("call", "call a tool: call [SERVER] TOOL [key=value ...]")
    p.add_argument(
        "words",
        nargs="+",
        metavar="[SERVER] TOOL [key=value]",
        help="the server (optional with one server, or use a qualified tool name), the tool, "
        "then arguments as key=value (values read as JSON when they parse)",
    )
    p.add_argument("--json-args", metavar="JSON", help="the arguments as one JSON object")
    p = add("batch", "run many tool calls from a JSONL file")
    p.add_argument(
        "file",
        metavar="FILE.jsonl",
        help='one call per line: {"server"?: ..., "tool": ..., "arguments": {...}}; - for stdin',
    )
    p.add_argument("--output", "-o", metavar="PATH", help="write results here (default stdout)")
    p.add_argument(
        "--max-workers", type=_positive_int, default=8, metavar="N", help="calls at once"
    )
    p.add_argument(
        "--call-timeout",
        type=_positive_float,
        metavar="S",
        help="seconds per call, all attempts included (default: per-answer timeout only)",
    )
    p.add_argument(
        "--deadline", type=_positive_float, metavar="S", help="seconds for the whole batch"
    )
    p.add_argument(
        "--fail-fast", action="store_true", help="start nothing new after the first failure"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p = add("resources", "list resources and resource templates")
    p.add_argument("server", nargs="?", metavar="SERVER")
    p = add("read", "read a resource: read [SERVER] URI")
    p.add_argument("words", nargs="+", metavar="[SERVER] URI")
    p = add("prompts", "list prompts")
    p.add_argument("server", nargs="?", metavar="SERVER")
    p = add("get-prompt", "render a prompt: get-prompt [SERVER] NAME [key=value ...]")
    p.add_argument("words", nargs="+", metavar="[SERVER] NAME [key=value]")
    p = add("ping", "check servers: latency, protocol version, breaker state")
    p.add_argument("server", nargs="?", metavar="SERVER")
    p = add(
        "demo",
        "start the bundled demo MCP server on this machine, list its tools, run 100 tool "
        "calls and print a summary (needs: pip install 'syncclients[demo]')",
    )
    p.add_argument(
        "--http",
        action="store_true",
        help="serve the demo over Streamable HTTP on 127.0.0.1 (default stdio)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` and fill in the defaults of the common options.

    Raises:
        CLIError: invalid usage (exit code 2).
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if extra:
        # key=value words after an option (``call t --json-args '{}' k=v``) belong to words.
        if hasattr(args, "words") and not any(word.startswith("-") for word in extra):
            args.words.extend(extra)
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    for key, value in _DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


# -- servers ---------------------------------------------------------------------------------


def inline_config(stdio: Sequence[str] | None, urls: Sequence[str] | None) -> dict[str, Any]:
    """The ``mcpServers`` mapping for inline servers.

    Args:
        stdio: commands, each split like a POSIX shell (``"uvx mcp-server-time"``).
        urls: Streamable HTTP endpoints.

    Returns:
        ``{"mcpServers": {"stdio": {...}, "stdio-2": {...}, "url": {...}, ...}}``.

    Raises:
        CLIError: an empty or unbalanced command.
    """
    servers: dict[str, Any] = {}
    for i, command in enumerate(stdio or ()):
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise CLIError(f"--stdio {command!r}: {exc}") from None
        if not words:
            raise CLIError("--stdio needs a command, e.g. --stdio 'uvx mcp-server-time'")
        servers["stdio" if i == 0 else f"stdio-{i + 1}"] = {"command": words[0], "args": words[1:]}
    for i, url in enumerate(urls or ()):
        servers["url" if i == 0 else f"url-{i + 1}"] = {"type": "http", "url": url}
    return {"mcpServers": servers}


def open_group(args: argparse.Namespace) -> MCPGroup:
    """The servers named by ``--config`` / ``--stdio`` / ``--url`` (not yet connected).

    Raises:
        CLIError: both a config file and inline servers were given.
        UsageError: the config file is missing or malformed.
    """
    options: dict[str, Any] = {
        "era": args.era,
        "timeouts": Timeouts(connect_s=args.connect_timeout, read_s=args.timeout),
    }
    if args.stdio or args.url:
        if args.config is not None:
            raise CLIError("use either --config or inline servers (--stdio/--url), not both")
        return MCPGroup.from_dict(inline_config(args.stdio, args.url), **options)
    _check_default_config(args.config)
    return MCPGroup.from_config(args.config, **options)


def _check_default_config(path: str | None) -> None:
    """Without ``--config``, say where servers can come from when the default file is absent.

    Raises:
        CLIError: no ``--config``, and neither ``$MCP_CONFIG`` nor ``./.mcp.json`` exists.
    """
    if path is None and not config_path(None).exists():
        raise CLIError(
            f"no MCP servers: no {str(config_path(None))!r}; pass --config PATH (an "
            "mcpServers JSON file), set $MCP_CONFIG, or give --stdio 'CMD ARGS' / --url URL"
        )


def _pick_server(group: MCPGroup, server: str | None, what: str) -> str:
    if server is not None:
        if server not in group.servers:
            known = ", ".join(group.servers) or "none"
            raise CLIError(f"no server {server!r} (configured: {known})")
        return server
    if len(group.servers) == 1:
        return group.servers[0]
    if not group.servers:
        raise CLIError("no servers configured")
    raise CLIError(
        f"{len(group.servers)} servers are configured ({', '.join(group.servers)}): "
        f"name one, e.g. {_PROG} {what}"
    )


def _split_words(words: Sequence[str], names: int, usage: str) -> tuple[list[str], dict[str, str]]:
    """Split ``[SERVER] NAME key=value ...`` into (leading names, raw key=value pairs)."""
    lead: list[str] = []
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            if pairs:
                raise CLIError(f"expected key=value after the arguments began, got {word!r}")
            lead.append(word)
            continue
        if not key:
            raise CLIError(f"argument {word!r} has no key (expected key=value)")
        pairs[key] = value
    if not 1 <= len(lead) <= names:
        raise CLIError(f"usage: {_PROG} {usage}")
    return lead, pairs


def parse_value(text: str) -> Any:
    """A ``key=value`` value: JSON when it parses (numbers, booleans, null, lists, objects,
    quoted strings), else the text itself."""

    def strict(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")  # NaN, Infinity: keep the text

    try:
        return json.loads(text, parse_constant=strict)
    except ValueError:
        return text


# -- output ----------------------------------------------------------------------------------


def _short(text: str | None, width: int = _DESCRIPTION_WIDTH) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 3] + "..."


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces (the last column is not padded).

    Args:
        headers: the column titles.
        rows: the cells, one sequence per row, as strings.

    Returns:
        The table, one line per row after the header line, without a trailing newline; just
        the header when there are no rows.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _content_text(block: Any) -> str:
    """A human rendering of one content block."""
    if isinstance(block, TextContent):
        return block.text
    if isinstance(block, ImageContent | AudioContent):
        return f"[{block.type} {block.mime_type}, {len(block.bytes)} bytes]"
    if isinstance(block, ResourceLink):
        return f"[resource link {block.uri}]"
    if isinstance(block, EmbeddedResource):
        return _resource_text(block.resource)
    return f"[{getattr(block, 'type', 'unknown')} content]"


def _resource_text(contents: Any) -> str:
    if isinstance(contents, TextResourceContents):
        return contents.text
    if isinstance(contents, BlobResourceContents):
        return f"[blob {contents.mime_type or 'application/octet-stream'}, " + (
            f"{len(contents.bytes)} bytes, {contents.uri}]"
        )
    return "[unknown contents]"


def result_value(result: CallToolResult) -> Any:
    """What a tool call returned, for JSON output: the structured content when there is
    some, else the text of the content blocks."""
    if result.structured_content is not None:
        return result.structured_content
    return "\n".join(_content_text(block) for block in result.content)


def _result_json(server: str, tool: str, result: CallToolResult) -> dict[str, Any]:
    return {
        "server": server,
        "tool": tool,
        "is_error": result.is_error,
        "result": result_value(result),
        "content": [block.raw or {"type": block.type} for block in result.content],
    }


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return f"{type(error).__name__}: {error}"


def _print_json(data: Any, out: IO[str]) -> None:
    print(json.dumps(data, indent=2, default=str), file=out)


# -- commands --------------------------------------------------------------------------------


@dataclass
class _Context:
    args: argparse.Namespace
    out: IO[str]
    err: IO[str]


def cmd_servers(ctx: _Context) -> int:
    """List the configured servers (nothing is started)."""
    args = ctx.args
    if args.stdio or args.url:
        if args.config is not None:
            raise CLIError("use either --config or inline servers (--stdio/--url), not both")
        entries = parse_servers(inline_config(args.stdio, args.url), source="the command line")
    else:
        _check_default_config(args.config)
        entries = load_servers(args.config)
    rows = []
    for name, entry in entries.items():
        if entry.command is not None:
            target = shlex.join([entry.command, *entry.args])
            rows.append({"server": name, "transport": "stdio", "target": target})
        else:
            rows.append({"server": name, "transport": "http", "target": entry.url or ""})
    if args.json:
        _print_json(rows, ctx.out)
    else:
        print(
            format_table(
                ("SERVER", "TRANSPORT", "TARGET"),
                [(r["server"], r["transport"], r["target"]) for r in rows],
            ),
            file=ctx.out,
        )
    return EXIT_OK


def _hints(annotations: Any) -> str:
    marks = [
        label
        for label, on in (
            ("read-only", annotations.read_only_hint),
            ("idempotent", annotations.idempotent_hint),
            ("destructive", annotations.destructive_hint),
        )
        if on
    ]
    return ",".join(marks) or "-"


def cmd_tools(ctx: _Context, group: MCPGroup) -> int:
    """List tools: of one server (plain names) or of all (server-qualified names)."""
    server = ctx.args.server
    entries: list[tuple[str, str, Any]]
    failed: dict[str, BaseException] = {}
    if server is not None or len(group.servers) == 1:
        name = _pick_server(group, server, "tools SERVER")
        entries = [(name, tool.name, tool) for tool in group.client(name).list_tools()]
    else:
        entries = [(t.server, t.name, t.tool) for t in group.list_tools(skip_failed=True)]
        failed = dict(group.listing_errors)
        if failed and len(failed) == len(group.servers):
            raise next(iter(failed.values()))
        for name, error in failed.items():
            print(f"{_PROG}: warning: {name}: {_error_text(error)}", file=ctx.err)
    if ctx.args.json:
        _print_json(
            [
                {
                    "server": srv,
                    "name": qualified,
                    "tool": tool.name,
                    "title": tool.title,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                    "annotations": tool.annotations.raw,
                }
                for srv, qualified, tool in entries
            ],
            ctx.out,
        )
        return EXIT_FAILED if failed else EXIT_OK
    rows = [
        (srv, qualified, _hints(tool.annotations), _short(tool.description))
        for srv, qualified, tool in entries
    ]
    print(format_table(("SERVER", "TOOL", "HINTS", "DESCRIPTION"), rows), file=ctx.out)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_call(ctx: _Context, group: MCPGroup) -> int:
    """Call one tool; print its result (exit 1 when the tool answered ``isError``)."""
    lead, pairs = _split_words(ctx.args.words, 2, "call [SERVER] TOOL [key=value ...]")
    arguments: dict[str, Any] = {}
    if ctx.args.json_args is not None:
        try:
            loaded = json.loads(ctx.args.json_args)
        except ValueError as exc:
            raise CLIError(f"--json-args is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CLIError("--json-args must be a JSON object")
        arguments.update(loaded)
    arguments.update({key: parse_value(value) for key, value in pairs.items()})
    if len(lead) == 2:
        server, tool = _pick_server(group, lead[0], ""), lead[1]
        result = group.call_tool(server, tool, arguments)
    elif len(group.servers) <= 1:
        server, tool = _pick_server(group, None, ""), lead[0]
        result = group.call_tool(server, tool, arguments)
    else:
        found = {t.name: t for t in group.list_tools()}.get(lead[0])
        if found is None:
            raise CLIError(
                f"no tool {lead[0]!r} among the qualified tool names of "
                f"{', '.join(group.servers)} (see '{_PROG} tools'); or name the server: "
                f"{_PROG} call SERVER TOOL"
            )
        server, tool = found.server, found.tool.name
        result = group.call_qualified(lead[0], arguments)
    if ctx.args.json:
        _print_json(_result_json(server, tool, result), ctx.out)
    else:
        text = "\n".join(_content_text(block) for block in result.content)
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content, indent=2)
        if result.is_error:
            print(f"{_PROG}: tool {tool!r} returned an error: {_short(text, 300)}", file=ctx.err)
        else:
            print(text, file=ctx.out)
    return EXIT_FAILED if result.is_error else EXIT_OK


@dataclass(frozen=True)
class BatchLine:
    """One input line of ``syncclients batch``: the server, tool and arguments to call."""

    server: str
    tool: str
    arguments: dict[str, Any]


def read_batch(lines: Sequence[str], servers: Sequence[str], source: str) -> list[BatchLine]:
    """Parse JSONL batch input (blank lines are skipped).

    Args:
        lines: the input lines.
        servers: the configured servers (a line may omit ``server`` when there is one).
        source: the file name, for error messages.

    Returns:
        One :class:`BatchLine` per non-blank line, in order.

    Raises:
        CLIError: a line is not a JSON object with a string ``tool``, ``arguments`` is not an
            object, the server is unknown, or it is missing while several are configured.
    """
    calls: list[BatchLine] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise CLIError(f"{where}: not valid JSON: {exc}") from None
        if not isinstance(item, dict):
            raise CLIError(f"{where}: expected a JSON object with 'tool' and 'arguments'")
        unknown = set(item) - {"server", "tool", "arguments"}
        if unknown:
            raise CLIError(f"{where}: unknown keys {sorted(unknown)}")
        tool = item.get("tool")
        if not isinstance(tool, str) or not tool:
            raise CLIError(f"{where}: 'tool' must be a non-empty string")
        arguments = item.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise CLIError(f"{where}: 'arguments' must be a JSON object")
        server = item.get("server")
        if server is None:
            if len(servers) != 1:
                raise CLIError(
                    f"{where}: no 'server', and {len(servers)} servers are configured "
                    f"({', '.join(servers) or 'none'})"
                )
            server = servers[0]
        if not isinstance(server, str) or server not in servers:
            raise CLIError(f"{where}: unknown server {server!r} (configured: {', '.join(servers)})")
        calls.append(BatchLine(server, tool, arguments))
    return calls


def outcome_json(outcome: BatchOutcome[CallToolResult]) -> dict[str, Any]:
    """One output line of ``syncclients batch``.

    Returns:
        ``{"index", "ok", "result", "error", "attempts", "duration_s"}``: ``ok`` is False
        when the call raised or the tool answered ``isError``; ``result`` is the structured
        content or the text (None when the call raised); ``error`` is ``"Type: message"``
        or, for ``isError``, ``"tool error: <text>"``, else None.
    """
    result = outcome.result
    error = _error_text(outcome.error)
    ok = outcome.ok
    value = None
    if result is not None:
        value = result_value(result)
        if result.is_error:
            ok = False
            text = "\n".join(_content_text(block) for block in result.content)
            error = f"tool error: {text}"
    return {
        "index": outcome.index,
        "ok": ok,
        "result": value,
        "error": error,
        "attempts": outcome.attempts,
        "duration_s": round(outcome.duration_s, 6),
    }


@contextmanager
def _output(path: str | None, default: IO[str]) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield default
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CLIError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def cmd_batch(ctx: _Context, group: MCPGroup) -> int:
    """Run a JSONL batch; write one JSON line per input, in order (exit 1 on any failure)."""
    args = ctx.args
    if args.file == "-":
        lines = sys.stdin.read().splitlines()
        source = "<stdin>"
    else:
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CLIError(f"cannot read {args.file!r}: {exc.strerror or exc}") from None
        source = args.file
    calls = read_batch(lines, group.servers, source)
    # Learn the tools' annotations first: only readOnlyHint/idempotentHint tools are retried.
    group.list_tools(skip_failed=True)
    progress = not args.no_progress and importlib.util.find_spec("tqdm") is not None
    interrupted: BatchInterrupted | None = None
    try:
        outcomes = group.call_batch(
            [(c.server, c.tool, c.arguments) for c in calls],
            max_workers=args.max_workers,
            timeout=args.call_timeout,
            deadline=args.deadline,
            fail_fast=args.fail_fast,
            progress=progress,
        )
    except BatchInterrupted as exc:
        interrupted = exc
        outcomes = exc.outcomes
    failed = 0
    with _output(args.output, ctx.out) as out:
        for outcome in outcomes:
            line = outcome_json(outcome)
            failed += not line["ok"]
            out.write(json.dumps(line, default=str) + "\n")
        out.flush()
    if interrupted is not None:
        print(f"{_PROG}: interrupted: {interrupted}", file=ctx.err)
        return EXIT_INTERRUPTED
    if failed:
        print(f"{_PROG}: {failed} of {len(outcomes)} calls failed", file=ctx.err)
        return EXIT_FAILED
    return EXIT_OK


def _servers_of(group: MCPGroup, server: str | None) -> list[str]:
    if server is not None:
        return [_pick_server(group, server, "")]
    return list(group.servers)


def cmd_resources(ctx: _Context, group: MCPGroup) -> int:
    """List resources and resource templates of one or every server."""
    found: list[dict[str, Any]] = []
    for name in _servers_of(group, ctx.args.server):
        client = group.client(name)
        if not client.capabilities.resources:
            continue
        found.extend(
            {
                "server": name,
                "uri": r.uri,
                "name": r.name,
                "mime_type": r.mime_type,
                "description": r.description,
            }
            for r in client.list_resources()
        )
        found.extend(
            {
                "server": name,
                "uri_template": t.uri_template,
                "name": t.name,
                "mime_type": t.mime_type,
                "description": t.description,
            }
            for t in client.list_resource_templates()
        )
    if ctx.args.json:
        _print_json(found, ctx.out)
        return EXIT_OK
    rows = [
        (
            r["server"],
            r.get("uri") or r["uri_template"],
            r["name"],
            r["mime_type"] or "-",
            _short(r["description"]),
        )
        for r in found
    ]
    print(format_table(("SERVER", "URI", "NAME", "MIME", "DESCRIPTION"), rows), file=ctx.out)
    return EXIT_OK


def cmd_read(ctx: _Context, group: MCPGroup) -> int:
    """Read one resource and print its contents."""
    words = ctx.args.words
    if len(words) > 2:
        raise CLIError(f"usage: {_PROG} read [SERVER] URI")
    server = _pick_server(group, words[0] if len(words) == 2 else None, f"read SERVER {words[-1]}")
    result = group.client(server).read_resource(words[-1])
    if ctx.args.json:
        _print_json(
            {"server": server, "uri": words[-1], "contents": [c.raw for c in result.contents]},
            ctx.out,
        )
    else:
        for contents in result.contents:
            text = _resource_text(contents)
            ctx.out.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_prompts(ctx: _Context, group: MCPGroup) -> int:
    """List prompts of one or every server."""
    found: list[tuple[str, Any]] = []
    for name in _servers_of(group, ctx.args.server):
        client = group.client(name)
        if client.capabilities.prompts:
            found.extend((name, prompt) for prompt in client.list_prompts())
    if ctx.args.json:
        _print_json(
            [
                {
                    "server": server,
                    "name": p.name,
                    "description": p.description,
                    "arguments": [
                        {"name": a.name, "required": a.required, "description": a.description}
                        for a in p.arguments
                    ],
                }
                for server, p in found
            ],
            ctx.out,
        )
        return EXIT_OK
    rows = [
        (
            server,
            p.name,
            " ".join(a.name + ("*" if a.required else "") for a in p.arguments) or "-",
            _short(p.description),
        )
        for server, p in found
    ]
    print(format_table(("SERVER", "PROMPT", "ARGUMENTS", "DESCRIPTION"), rows), file=ctx.out)
    if rows:
        print("(* required)", file=ctx.out)
    return EXIT_OK


def cmd_get_prompt(ctx: _Context, group: MCPGroup) -> int:
    """Render a prompt (arguments are strings) and print its messages."""
    lead, pairs = _split_words(ctx.args.words, 2, "get-prompt [SERVER] NAME [key=value ...]")
    server = _pick_server(
        group, lead[0] if len(lead) == 2 else None, f"get-prompt SERVER {lead[-1]}"
    )
    result = group.client(server).get_prompt(lead[-1], pairs)
    if ctx.args.json:
        _print_json(
            {
                "server": server,
                "name": lead[-1],
                "description": result.description,
                "messages": [
                    {"role": m.role, "content": m.content.raw or {"type": m.content.type}}
                    for m in result.messages
                ],
            },
            ctx.out,
        )
    else:
        for message in result.messages:
            print(f"[{message.role}]\n{_content_text(message.content)}", file=ctx.out)
    return EXIT_OK


def cmd_ping(ctx: _Context, group: MCPGroup) -> int:
    """Health of one or every server (exit 1 when any is unhealthy)."""
    if ctx.args.server is not None:
        name = _pick_server(group, ctx.args.server, "")
        group = MCPGroup.from_clients({name: group.client(name)})  # not owned: closed later
    reports = group.health(timeout_s=min(ctx.args.timeout, ctx.args.connect_timeout))
    if ctx.args.json:
        _print_json(
            [
                {
                    "server": h.server,
                    "ok": h.ok,
                    "latency_s": h.latency_s,
                    "protocol_version": h.protocol_version,
                    "breaker_state": str(h.breaker_state),
                    "error": None if h.error is None else str(h.error),
                }
                for h in reports
            ],
            ctx.out,
        )
    else:
        rows = [
            (
                h.server,
                "ok" if h.ok else "FAILED",
                "-" if h.latency_s is None else f"{h.latency_s * 1000:.1f} ms",
                h.protocol_version or "-",
                str(h.breaker_state),
                "" if h.error is None else _short(str(h.error), 80),
            )
            for h in reports
        ]
        print(
            format_table(("SERVER", "STATUS", "LATENCY", "PROTOCOL", "BREAKER", "ERROR"), rows),
            file=ctx.out,
        )
    return EXIT_OK if all(h.ok for h in reports) else EXIT_FAILED


def cmd_demo(ctx: _Context) -> int:
    """Run the bundled demo (see :mod:`syncclients.demo.run`)."""
    args = ctx.args
    if args.config is not None or args.stdio or args.url:
        raise CLIError("demo starts its own server: drop --config/--stdio/--url")
    from syncclients.demo.run import DemoError, run_demo

    try:
        return run_demo(
            http=args.http,
            progress=False if args.no_progress else None,
            json_output=args.json,
            stdout=ctx.out,
        )
    except DemoError as exc:
        raise CLIError(str(exc), exc.exit_code) from None


_GROUP_COMMANDS: dict[str, Callable[[_Context, MCPGroup], int]] = {
    "tools": cmd_tools,
    "call": cmd_call,
    "batch": cmd_batch,
    "resources": cmd_resources,
    "read": cmd_read,
    "prompts": cmd_prompts,
    "get-prompt": cmd_get_prompt,
    "ping": cmd_ping,
}


# -- entry point -----------------------------------------------------------------------------


def _exit_code_of(exc: BaseException) -> int:
    """Map a library error to an exit code: unreachable servers and bad configuration are 2,
    a call that failed (a JSON-RPC error, a timeout, an open breaker) is 1."""
    if isinstance(exc, UsageError | ConnectError):  # ConnectTimeout too: a connection error
        return EXIT_USAGE
    if isinstance(exc, TransportError) and not isinstance(exc, Timeout):
        return EXIT_USAGE
    return EXIT_FAILED


def _run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    ctx = _Context(args, out, err)
    if args.command == "servers":
        return cmd_servers(ctx)
    if args.command == "demo":
        return cmd_demo(ctx)
    group = open_group(args)
    try:
        return _GROUP_COMMANDS[args.command](ctx, group)
    finally:
        group.close()


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the ``syncclients`` command.

    Args:
        argv: the arguments after the program name; None: ``sys.argv[1:]``.
        stdout: where results go; None: ``sys.stdout``.
        stderr: where errors, warnings and progress go; None: ``sys.stderr``.

    Returns:
        The exit code: 0 ok, 1 a call failed or a tool answered ``isError``, 2 usage,
        configuration or connection error, 130 interrupted.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    raw = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in raw
    try:
        try:
            args = parse_args(raw)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.debug:
            logging.basicConfig(
                level=logging.DEBUG, stream=err, format="%(asctime)s %(name)s %(message)s"
            )
        return _run(args, out, err)
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=err)
        return EXIT_INTERRUPTED
    except CLIError as exc:
        if debug:
            traceback.print_exc(file=err)
        print(f"{_PROG}: error: {exc}", file=err)
        return exc.exit_code
    except (SyncClientsError, UsageError) as exc:
        if debug:
            traceback.print_exc(file=err)
        kind = "" if isinstance(exc, MCPError | UsageError) else f"{type(exc).__name__}: "
        print(f"{_PROG}: error: {kind}{_one_line(str(exc))}", file=err)
        return _exit_code_of(exc)
    except Exception as exc:
        if debug:
            traceback.print_exc(file=err)
        print(
            f"{_PROG}: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(run with --debug for the traceback)",
            file=err,
        )
        return EXIT_USAGE


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
