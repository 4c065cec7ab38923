"""Reading servers from a standard ``mcpServers`` JSON file.

The format shared by MCP hosts (Claude Desktop, Claude Code ``.mcp.json``, Cursor, VS
Code)::

    {"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "docs": {"type": "http", "url": "https://example.com/mcp",
                 "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}}
    }}

``${VAR}`` and ``${VAR:-default}`` in string values are expanded from the environment. The
entry remembers what each expanded, so that :meth:`ServerEntry.display_target`, its
``repr()`` and our errors show ``${VAR}`` (or ``***``), never the value.

VS Code's format (``.vscode/mcp.json``) is read too: the servers are under ``"servers"``
instead of ``"mcpServers"``, each with a ``type`` of ``"stdio"`` (``command``, ``args``,
``env``), ``"http"`` or ``"sse"`` (``url``, ``headers``)::

    {"servers": {
        "time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]},
        "docs": {"type": "http", "url": "https://example.com/mcp"}
    }}

Its ``"inputs"`` (values VS Code prompts the user for, referenced as ``${input:id}``) exist
only inside VS Code: an entry that uses one is rejected with a message saying so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..redact import MASK, is_secret_name, redact_command, redact_url

__all__ = [
    "ServerEntry",
    "config_path",
    "load_server",
    "load_servers",
    "parse_entry",
    "parse_servers",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: A VS Code input variable (``${input:api-key}``): VS Code prompts for it; we cannot.
_VSCODE_INPUT = re.compile(r"\$\{input:([^}]*)\}")
#: ``type`` values (VS Code, Claude Code) and the field each needs.
_TYPE_NEEDS = {"stdio": "command", "http": "url", "sse": "url"}


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """One ``mcpServers`` entry: either ``command`` (stdio) or ``url`` (HTTP) is set.

    Attributes:
        name: the entry's key.
        command: the program to start, or None.
        args: its arguments.
        env: variables added to the server's environment.
        cwd: the working directory, or None.
        url: the HTTP endpoint, or None.
        headers: HTTP headers.
        raw: the entry as read (after expansion).
        expanded: ``{VAR: value}`` for every ``${VAR}`` expanded in the entry (from the
            environment or the default), so that what we print shows ``${VAR}`` instead.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    expanded: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def display_target(self) -> str:
        """The command line or URL for humans: secrets hidden (see :mod:`syncclients.redact`),
        expanded ``${VAR}`` values shown as ``${VAR}``."""
        if self.command is not None:
            return redact_command([self.command, *self.args], known=self.expanded)
        return redact_url(self.url or "", known=self.expanded)

    def __repr__(self) -> str:
        env = {
            k: MASK if k in self.expanded or is_secret_name(k) else v for k, v in self.env.items()
        }
        headers = {k: MASK for k in self.headers}
        return (
            f"ServerEntry(name={self.name!r}, target={self.display_target()!r}, env={env!r}, "
            f"cwd={self.cwd!r}, headers={headers!r})"
        )


def _expand(value: Any, where: str, seen: dict[str, str] | None = None) -> Any:
    """``value`` with ``${VAR}`` expanded; each expansion is recorded in ``seen``."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is None:
                found = default
            if found is None:
                raise UsageError(f"{where}: environment variable {name} is not set")
            if seen is not None and found:
                seen[name] = found
            return found

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, where, seen) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, where, seen) for k, v in value.items()}
    return value


def _str_map(entry: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = entry.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise UsageError(f"{where}: {key!r} must map strings to strings")
    return dict(value)


def parse_entry(name: str, entry: Any, where: str) -> ServerEntry:
    """Validate and expand one ``mcpServers`` entry.

    Args:
        name: the entry's key.
        entry: the entry object as read.
        where: a location for error messages (``"file: mcpServers.name"``).

    Returns:
        The entry, ``${VAR}`` references expanded.

    Raises:
        UsageError: not an object, or neither ``command`` nor ``url``, or malformed fields.
    """
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: must be an object")
    _check_vscode_entry(entry, where)
    expanded: dict[str, str] = {}
    entry = _expand(entry, where, expanded)
    command, url = entry.get("command"), entry.get("url")
    if isinstance(command, str) and command:
        args = entry.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise UsageError(f"{where}: 'args' must be a list of strings")
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise UsageError(f"{where}: 'cwd' must be a string")
        return ServerEntry(
            name, command=command, args=tuple(args), env=_str_map(entry, "env", where),
            cwd=cwd, raw=entry, expanded=expanded,
        )  # fmt: skip
    if isinstance(url, str) and url:
        return ServerEntry(
            name, url=url, headers=_str_map(entry, "headers", where), raw=entry, expanded=expanded
        )
    raise UsageError(f"{where}: needs a 'command' (stdio) or a 'url' (HTTP)")


def _check_vscode_entry(entry: Mapping[str, Any], where: str) -> None:
    """Reject what only VS Code can resolve, and a ``type`` without the field it needs.

    Raises:
        UsageError: an ``${input:...}`` reference, or e.g. ``type: "http"`` without ``url``.
    """

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    for text in strings(entry):
        found = _VSCODE_INPUT.search(text)
        if found is not None:
            raise UsageError(
                f"{where}: ${{input:{found.group(1)}}} is a VS Code input variable (VS Code "
                "prompts for its value; nothing else can): write the value, or ${VAR} to "
                "read it from the environment"
            )
    kind = entry.get("type")
    needs = _TYPE_NEEDS.get(kind) if isinstance(kind, str) else None
    if needs is not None and not entry.get(needs):
        raise UsageError(f"{where}: type {kind!r} needs a {needs!r}")


def _servers_mapping(config: Mapping[str, Any]) -> Any:
    """The ``{name: entry}`` mapping of a configuration: under ``mcpServers``, under VS
    Code's ``servers``, else the configuration itself (where ``servers`` holding a
    ``command`` or ``url`` is an entry named "servers")."""
    if "mcpServers" in config:
        return config["mcpServers"]
    servers = config.get("servers")
    if isinstance(servers, Mapping) and not {"command", "url"} & set(servers):
        return servers
    return config


def parse_servers(config: Mapping[str, Any], *, source: str = "<dict>") -> dict[str, ServerEntry]:
    """Every entry of an ``mcpServers`` configuration, validated, in file order.

    Args:
        config: ``{"mcpServers": {...}}``, VS Code's ``{"servers": {...}, "inputs": [...]}``,
            or the inner ``{name: entry}`` mapping.
        source: where it came from, for error messages.

    Returns:
        ``{name: ServerEntry}``.

    Raises:
        UsageError: a malformed configuration or entry (the message names it).
    """
    servers = _servers_mapping(config) if isinstance(config, Mapping) else None
    if not isinstance(servers, Mapping):
        raise UsageError(f"MCP config {source} has no 'mcpServers' (or 'servers') object")
    key = "servers" if servers is config.get("servers") else "mcpServers"
    return {
        str(name): parse_entry(str(name), entry, f"{source}: {key}.{name}")
        for name, entry in servers.items()
    }


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file to read: ``path``; else ``$MCP_CONFIG``; else ``./.mcp.json``."""
    return Path(path if path is not None else os.environ.get("MCP_CONFIG", ".mcp.json"))


def load_servers(path: str | os.PathLike[str] | None = None) -> dict[str, ServerEntry]:
    """Every server of an ``mcpServers`` file (see :func:`config_path` for the default).

    Raises:
        UsageError: the file is missing or not JSON, or an entry is malformed.
    """
    file = config_path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read MCP config {str(file)!r}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"MCP config {str(file)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not (
        isinstance(data.get("mcpServers"), dict) or isinstance(data.get("servers"), dict)
    ):
        raise UsageError(f"MCP config {str(file)!r} has no 'mcpServers' (or 'servers') object")
    return parse_servers(data, source=repr(str(file)))


def load_server(name: str, path: str | os.PathLike[str] | None = None) -> ServerEntry:
    """Read entry ``name`` from an ``mcpServers`` file.

    Args:
        name: the key under ``mcpServers``.
        path: the file; None: ``$MCP_CONFIG`` when set, else ``./.mcp.json``.

    Returns:
        The validated, expanded entry.

    Raises:
        UsageError: the file is missing or not JSON, the server is not in it, or the entry
            has neither ``command`` nor ``url`` (or malformed fields).
    """
    servers = load_servers(path)
    if name not in servers:
        known = ", ".join(sorted(servers)) or "none"
        raise UsageError(
            f"MCP config {str(config_path(path))!r} has no server {name!r} (known: {known})"
        )
    return servers[name]
