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

``key=value`` arguments follow the tool's ``inputSchema`` when the server lists the tool: a
``string`` parameter gets the text as typed (``message=123`` is the string ``"123"``);
``number``, ``integer``, ``boolean``, ``object``, ``array`` and ``null`` parameters are read
as JSON and must fit the type (``n=3``, ``ok=true``, ``tags='["a","b"]'``), else the command
fails before calling. For an unknown tool or parameter, or a schema without a plain type,
the value is read as JSON when it parses, else taken as a string (``name=Ada``; quote JSON
strings to keep digits a string: ``zip='"01234"'``).

Only the servers a command needs are started: ``call SERVER TOOL`` and ``call
server__tool`` start one, ``batch`` those its lines name; a broken server elsewhere in the
configuration does not matter to them.

Exit codes: 0 success; 1 a call failed or a tool returned ``isError`` (for ``batch``,
``ping`` and ``tools`` of several servers: at least one did); 2 a usage error, a
configuration error, or a server that could not be reached (it did not start, refused the
connection, answered the connection with an HTTP error such as 404, or did not complete the
handshake in time); 130 interrupted; 141 the output pipe was closed (``| head``: the rest
of the output is dropped quietly). Errors print one line on stderr; ``--debug`` adds the
traceback and the library's debug log.

This module uses the public API only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    Timeouts,
    UsageError,
    __version__,
    run_batch,
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

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

#: Everything worked.
EXIT_OK = 0
#: A call failed, or a tool answered ``isError``.
EXIT_FAILED = 1
#: Bad usage or configuration, or a server that could not be reached.
EXIT_USAGE = 2
#: Ctrl-C.
EXIT_INTERRUPTED = 130
#: The reader of our output went away (``syncclients tools | head -1``): 128 + SIGPIPE, what a
#: shell reports for a program that SIGPIPE ended.
EXIT_BROKEN_PIPE = 141

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


#: The options that choose and tune servers (``demo`` starts its own server: it refuses them).
_SERVER_OPTIONS = ("config", "stdio", "url", "era", "timeout", "connect_timeout")


def _common_options(*, hide_servers: bool = False) -> _Parser:
    """Options accepted before and after the command (their defaults are set later).

    Args:
        hide_servers: leave the server options out of ``--help`` (``demo`` refuses them with
            a clear message, so they are parsed but not advertised).
    """
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    where = common.add_argument_group("servers") if not hide_servers else common

    def shown(text: str) -> str:
        return argparse.SUPPRESS if hide_servers else text

    where.add_argument(
        "--config",
        metavar="PATH",
        help=shown("an mcpServers JSON file (default: standard locations)"),
    )
    where.add_argument(
        "--stdio",
        metavar='"CMD ARGS"',
        action="append",
        help=shown("an inline stdio server command, split like a shell (repeatable)"),
    )
    where.add_argument(
        "--url", metavar="URL", action="append", help=shown("an inline Streamable HTTP server")
    )
    where.add_argument(
        "--era",
        choices=("auto", "legacy", "2026-07-28"),
        help=shown("MCP protocol era (default auto: probe, then fall back)"),
    )
    where.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_float,
        help=shown("seconds to wait for each answer (default 60)"),
    )
    where.add_argument(
        "--connect-timeout",
        metavar="S",
        type=_positive_float,
        help=shown("seconds to start and connect to a server (default 30)"),
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
        epilog="Exit codes: 0 ok, 1 a call failed or a tool returned isError, 2 usage, "
        "configuration or connection error (a server that did not start, refused, answered "
        "an HTTP error such as 404, or did not complete the handshake), 130 interrupted, "
        "141 output pipe closed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[_common_options(hide_servers=True) if name == "demo" else common],
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
        "then arguments as key=value (typed by the tool's inputSchema: string parameters "
        "take the text as is, others are read as JSON)",
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
    args.server_options_given = [key for key in _SERVER_OPTIONS if hasattr(args, key)]
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


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line (just the message for MCP and usage errors)."""
    kind = "" if isinstance(exc, MCPError | UsageError) else f"{type(exc).__name__}: "
    return f"{kind}{_one_line(str(exc))}"


@contextmanager
def _connecting(server: str | None = None) -> Iterator[None]:
    """A failure to start or connect to a server is a connection error (exit code 2).

    Whatever the connect raised (ConnectError, an HTTP status such as 404 on the endpoint, a
    handshake timeout, a protocol-version mismatch) means the server could not be reached.

    Raises:
        CLIError: with :data:`EXIT_USAGE`, naming ``server`` when given.
    """
    try:
        yield
    except SyncClientsError as exc:
        where = f"server {server!r}: " if server is not None else ""
        raise CLIError(f"{where}{_describe(exc)}", EXIT_USAGE) from exc


def _start(group: MCPGroup, servers: Sequence[str]) -> None:
    """Start and connect exactly the ``servers`` a command needs (concurrently).

    Raises:
        CLIError: a server could not be reached (exit code 2), the first in order.
    """
    name = servers[0] if len(group.servers) > 1 and servers else None
    if len(servers) <= 1:
        for server in servers:
            with _connecting(name):
                group.client(server).connect()
        return
    outcomes = run_batch(
        lambda server, call: group.client(server).connect(), servers, max_workers=len(servers)
    )
    for server, outcome in zip(servers, outcomes, strict=True):
        if outcome.error is not None:
            with _connecting(server):
                raise outcome.error


def _input_schema(group: MCPGroup, server: str, tool: str) -> Mapping[str, Any] | None:
    """The ``inputSchema`` of ``tool`` as ``server`` lists it; None when it does not list it
    (or answers ``tools/list`` with an error)."""
    try:
        listed = group.client(server).list_tools()
    except MCPError:
        return None
    for item in listed:
        if item.name == tool:
            return item.input_schema
    return None


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


#: JSON Schema type -> (a test of a decoded JSON value, how to name it in errors).
_JSON_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "number": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "integer": (
        lambda v: (
            not isinstance(v, bool)
            and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
        ),
        "an integer",
    ),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "a JSON object"),
    "array": (lambda v: isinstance(v, list), "a JSON array"),
    "null": (lambda v: v is None, "null"),
}


def _schema_types(schema: Any) -> list[str] | None:
    """The JSON Schema ``type`` of a parameter as a list, or None when it has no plain type
    (absent, or only ``anyOf``/``oneOf``/``$ref``/``enum``...)."""
    if not isinstance(schema, dict):
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list) and declared and all(isinstance(d, str) for d in declared):
        return list(declared)
    return None


def typed_arguments(
    pairs: dict[str, str], input_schema: Any, tool: str | None = None
) -> dict[str, Any]:
    """``key=value`` texts as the tool's arguments, typed by its ``inputSchema``.

    A parameter whose schema type is ``string`` (alone, or with ``null``) gets the text as
    typed. One typed ``number``, ``integer``, ``boolean``, ``object``, ``array`` or ``null``
    (alone or a union of them) is read as JSON (JSON Schema 2020-12 "type"; ``NaN`` and
    ``Infinity`` are not JSON) and must fit one of its types. A parameter the schema does not
    describe, a schema without a plain ``type``, or a union of ``string`` with other types,
    falls back to :func:`parse_value`.

    Args:
        pairs: ``{key: text}`` from the command line.
        input_schema: the tool's ``inputSchema``; None (tool unknown): :func:`parse_value`
            for every value.
        tool: the tool's name, for error messages.

    Returns:
        ``{key: value}``, in the order of ``pairs``.

    Raises:
        CLIError: a value is not JSON or does not fit its parameter's type (exit code 2).
    """
    properties = input_schema.get("properties") if isinstance(input_schema, Mapping) else None
    if not isinstance(properties, dict):
        properties = {}
    typed: dict[str, Any] = {}
    for key, text in pairs.items():
        types = _schema_types(properties.get(key))
        if types is None or not set(types) <= {"string", "null"} | set(_JSON_TYPES):
            typed[key] = parse_value(text)
            continue
        if "string" in types:
            # A string parameter takes the text as typed; a string-or-X union stays ambiguous.
            typed[key] = text if set(types) <= {"string", "null"} else parse_value(text)
            continue
        names = " or ".join(_JSON_TYPES[name][1] for name in types)
        where = f"argument {key!r}" + (f" of tool {tool!r}" if tool else "")
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            raise CLIError(
                f"{where} must be {names} (inputSchema type {'/'.join(types)}), got {text!r}"
            ) from None
        if not any(_JSON_TYPES[name][0](value) for name in types):
            raise CLIError(
                f"{where} must be {names} (inputSchema type {'/'.join(types)}), got {text!r}"
            )
        typed[key] = value
    return typed


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


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
        # secrets hidden: --token-like values, secret query values, ${VAR} expansions
        transport = "stdio" if entry.command is not None else "http"
        rows.append({"server": name, "transport": transport, "target": entry.display_target()})
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
        _start(group, [name])
        entries = [(name, tool.name, tool) for tool in group.client(name).list_tools()]
    else:
        listing = group.list_tools()
        entries = [(t.server, t.name, t.tool) for t in listing]
        failed = dict(listing.errors)
        if failed and len(failed) == len(group.servers):
            first, error = next(iter(failed.items()))
            with _connecting(first):
                raise error
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
    if len(lead) == 2:
        server, tool = _pick_server(group, lead[0], ""), lead[1]
        _start(group, [server])
    elif len(group.servers) <= 1:
        server, tool = _pick_server(group, None, ""), lead[0]
        _start(group, [server])
    else:
        # A qualified name: start only the server(s) it can belong to (MCPGroup.resolve).
        candidates = group.servers_for(lead[0])
        not_found = CLIError(
            f"no tool {lead[0]!r} among the qualified tool names of "
            f"{', '.join(group.servers)} (see '{_PROG} tools'); or name the server: "
            f"{_PROG} call SERVER TOOL"
        )
        if not candidates:
            raise not_found
        if len(candidates) == 1:
            _start(group, candidates)
        try:
            with _connecting(candidates[0] if len(candidates) == 1 else None):
                server, tool = group.resolve(lead[0])
        except UsageError:
            raise not_found from None
    arguments.update(typed_arguments(pairs, _input_schema(group, server, tool), tool))
    result = group.call_tool(server, tool, arguments)
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
        ``{"index", "ok", "status", "result", "error", "attempts", "duration_s"}``: ``ok``
        is False when the call raised or the tool answered ``isError``; ``status`` is the
        outcome's status (``ok``, ``tool_error``, ``error``, ``deadline``, ``interrupted``:
        running at Ctrl-C, outcome unknown, ``cancelled``: never sent); ``result`` is the
        structured content or the text (None when the call raised); ``error`` is
        ``"Type: message"`` or, for ``isError``, ``"tool error: <text>"``, else None.
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
        "status": outcome.status,
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
    # Only the servers the lines name are started; one that fails is reported per line.
    group.list_tools(servers={c.server for c in calls})
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
    statuses: dict[str, int] = {}
    with _output(args.output, ctx.out) as out:
        for outcome in outcomes:
            line = outcome_json(outcome)
            failed += not line["ok"]
            statuses[line["status"]] = statuses.get(line["status"], 0) + 1
            out.write(json.dumps(line, default=str) + "\n")
        out.flush()
    if interrupted is not None:
        print(f"{_PROG}: interrupted: {interrupted}", file=ctx.err)
        return EXIT_INTERRUPTED
    if failed:
        detail = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()) if s != "ok")
        print(f"{_PROG}: {failed} of {len(outcomes)} calls failed ({detail})", file=ctx.err)
        return EXIT_FAILED
    return EXIT_OK


def _servers_of(group: MCPGroup, server: str | None) -> list[str]:
    if server is not None:
        return [_pick_server(group, server, "")]
    return list(group.servers)


def cmd_resources(ctx: _Context, group: MCPGroup) -> int:
    """List resources and resource templates of one or every server."""
    found: list[dict[str, Any]] = []
    _start(group, _servers_of(group, ctx.args.server))
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
    _start(group, [server])
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
    _start(group, _servers_of(group, ctx.args.server))
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
    _start(group, [server])
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
    given = getattr(args, "server_options_given", [])
    if given:
        options = ", ".join("--" + key.replace("_", "-") for key in given)
        raise CLIError(
            f"demo starts its own server with its own timeouts: drop {options} "
            "(demo takes --http, --no-progress, --json, --debug)"
        )
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
    """Map a library error raised by a call to an exit code: bad usage or configuration and a
    server that could not be reached (:class:`ConnectError`, connect timeouts included) are
    2; a call that failed once the server was reached (a JSON-RPC error, a read timeout, a
    lost connection or a server that exited mid-call, an open breaker) is 1. Failures while
    starting the servers a command needs are mapped to 2 by :func:`_connecting`."""
    if isinstance(exc, UsageError | ConnectError):  # ConnectTimeout too: a connection error
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
        configuration or connection error, 130 interrupted, 141 the output pipe was closed
        (the rest of the output is dropped; stdout then points at ``os.devnull``).
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        code = _main(argv, out, err)
        out.flush()  # here, not at interpreter exit, so a closed pipe is caught below
    except BrokenPipeError:
        # The reader went away (| head): drop the rest quietly, as a SIGPIPE-killed program
        # would (the Python docs' recipe: point stdout at devnull so the flush at exit is
        # silent too).
        _discard_output(out)
        return EXIT_BROKEN_PIPE
    return code


def _discard_output(out: IO[str]) -> None:
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _main(argv: Sequence[str] | None, out: IO[str], err: IO[str]) -> int:
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
    except BrokenPipeError:
        raise  # handled by main()
    except CLIError as exc:
        if debug:
            traceback.print_exc(file=err)
        print(f"{_PROG}: error: {exc}", file=err)
        return exc.exit_code
    except (SyncClientsError, UsageError) as exc:
        if debug:
            traceback.print_exc(file=err)
        print(f"{_PROG}: error: {_describe(exc)}", file=err)
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
