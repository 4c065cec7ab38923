"""MCP tools as functions a model can call: listing, provider-safe names, result conversion.

Names follow the strictest rules of the providers in use (OpenAI function names
``^[a-zA-Z0-9_-]{1,64}$``; Anthropic tool names ``^[a-zA-Z0-9_-]{1,64}$``; Gemini function
names start with a letter or ``_``, then ``[a-zA-Z0-9_.:-]``, at most 64). A name outside
them (a ``.`` from MCP SEP-986 naming, the group's ``~2`` suffix, a long server-qualified
name) is rewritten: characters replaced by ``_``, then cut and suffixed with 8 hex digits of
its SHA-256, so the same MCP tool always gets the same name. Two tools ending with the same
name are a :class:`~syncclients.errors.UsageError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import UsageError
from ..llm.types import ImagePart, Part, TextPart, Tool
from ..mcp import MCPClient, MCPGroup
from ..mcp.types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from ..mcp.types import Tool as MCPTool

__all__ = ["AgentTool", "NameRules", "ToolSource", "collect_tools", "provider_name", "result_parts"]

#: What ``tools=`` of :func:`~syncclients.agent.run_agent` accepts.
ToolSource = MCPClient | MCPGroup | Sequence[MCPClient | MCPGroup] | Mapping[str, MCPClient]

NameRules = Literal["openai", "anthropic", "gemini", "any"]

_RULES: dict[str, tuple[re.Pattern[str], re.Pattern[str], int]] = {
    # (valid name, characters to replace, max length)
    "openai": (re.compile(r"^[a-zA-Z0-9_-]{1,64}$"), re.compile(r"[^a-zA-Z0-9_-]"), 64),
    "anthropic": (re.compile(r"^[a-zA-Z0-9_-]{1,64}$"), re.compile(r"[^a-zA-Z0-9_-]"), 64),
    "gemini": (
        re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$"),
        re.compile(r"[^a-zA-Z0-9_.:-]"),
        64,
    ),
    # valid for all three: a router may fail over between them
    "any": (re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$"), re.compile(r"[^a-zA-Z0-9_-]"), 64),
}


def provider_name(name: str, rules: NameRules = "any") -> str:
    """``name`` made valid under ``rules``: unchanged when it already is, else invalid
    characters become ``_`` and, when that changed it or it is too long, a stable hash
    suffix (``_`` + 8 hex digits of SHA-256 of the original) keeps distinct names distinct.
    """
    valid, bad, limit = _RULES[rules]
    if valid.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    clean = bad.sub("_", name)
    if not clean or not valid.match(clean[:1] + "x"):  # must start with a letter or _
        clean = "_" + clean
    return f"{clean[: limit - 9]}_{digest}"


@dataclass(frozen=True, slots=True)
class AgentTool:
    """One MCP tool as the model sees it.

    Attributes:
        name: the provider-safe function name the model calls.
        server: the server's name (``mcpServers`` key or the mapping key; None for a lone
            client).
        tool: the MCP tool as the server listed it.
        client: the client that calls it.
    """

    name: str
    server: str | None
    tool: MCPTool
    client: MCPClient

    @property
    def read_only(self) -> bool:
        """True when the tool is annotated ``readOnlyHint: true`` (no approval asked)."""
        return self.tool.annotations.read_only_hint is True

    def arguments_for(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments to send: top-level nulls for optional properties whose schema does
        not allow null are dropped (OpenAI strict mode makes optional properties nullable,
        so a model sends null where it means "left out")."""
        props = (self.tool.input_schema or {}).get("properties") or {}
        required = set((self.tool.input_schema or {}).get("required") or ())
        out: dict[str, Any] = {}
        for key, value in arguments.items():
            if value is None and key in props and key not in required:
                kind = props[key].get("type") if isinstance(props[key], Mapping) else None
                if kind != "null" and not (isinstance(kind, list) and "null" in kind):
                    continue
            out[key] = value
        return out

    def as_llm_tool(self, *, strict: bool) -> Tool:
        """This tool as a :class:`syncclients.llm.Tool` (``inputSchema`` as the parameters)."""
        schema = dict(self.tool.input_schema or {})
        schema.setdefault("type", "object")
        if schema["type"] == "object":
            schema.setdefault("properties", {})
        return Tool(self.name, self.tool.description or self.tool.title or "", schema, strict)


def collect_tools(
    tools: ToolSource, *, rules: NameRules = "any", timeout_s: float | None = None
) -> dict[str, AgentTool]:
    """List the tools of every source and name them for the model.

    A lone :class:`MCPClient` keeps its tools' names; an :class:`MCPGroup` uses its
    qualified names (``server__tool``); a list of sources or a ``{name: client}`` mapping
    qualifies every name with its server (``name__tool``; clients in a list are named
    ``s0``, ``s1``... by position).

    Returns:
        ``{model-facing name: AgentTool}`` in listing order.

    Raises:
        UsageError: two tools with the same final name, or an unsupported source.
        SyncClientsError: a listing failed (a group's failing server is left out instead,
            as :meth:`MCPGroup.list_tools` does).
    """
    found: list[tuple[str, str | None, MCPTool, MCPClient]] = []

    def add(source: Any, label: str | None) -> None:
        if isinstance(source, MCPGroup):
            for gt in source.list_tools():
                qualified = gt.name if label is None else f"{label}__{gt.name}"
                found.append((qualified, gt.server, gt.tool, source.client(gt.server)))
        elif isinstance(source, MCPClient):
            for tool in source.list_tools(timeout=timeout_s):
                name = tool.name if label is None else f"{label}__{tool.name}"
                found.append((name, label, tool, source))
        else:
            raise UsageError(f"tools must be MCPClient or MCPGroup values, got {source!r}")

    if isinstance(tools, MCPClient | MCPGroup):
        add(tools, None)
    elif isinstance(tools, Mapping):
        for label, client in tools.items():
            add(client, str(label))
    else:
        sources = list(tools)
        for i, source in enumerate(sources):
            add(source, None if len(sources) == 1 else f"s{i}")
    out: dict[str, AgentTool] = {}
    for raw_name, server, tool, client in found:
        name = provider_name(raw_name, rules)
        if name in out:
            raise UsageError(f"two tools are named {name!r} for the model ({raw_name!r})")
        out[name] = AgentTool(name, server, tool, client)
    return out


def result_parts(
    result: CallToolResult, *, max_chars: int, images: bool
) -> tuple[str, tuple[ImagePart, ...]]:
    """What the model is shown of a tool result: ``(text, images)``.

    ``structuredContent`` as JSON when present (MCP 2025-06-18 "Structured Content"), else
    the text blocks and text resources (links as their URI); images only when ``images``
    (the model takes them). Text longer than ``max_chars`` is cut with a marker
    ``[truncated: N of M characters shown]``; ``max_chars=0`` means no limit.
    """
    if result.structured_content is not None and not result.is_error:
        text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
    else:
        pieces: list[str] = []
        for block in result.content:
            if isinstance(block, TextContent):
                pieces.append(block.text)
            elif isinstance(block, EmbeddedResource) and isinstance(
                block.resource, TextResourceContents
            ):
                pieces.append(block.resource.text)
            elif isinstance(block, ResourceLink):
                pieces.append(f"[resource: {block.uri}]")
            elif isinstance(block, ImageContent) and not images:
                pieces.append(f"[image: {block.mime_type}, not shown to this model]")
        text = "\n".join(pieces)
    found: list[ImagePart] = []
    if images:
        for block in result.content:
            if isinstance(block, ImageContent):
                found.append(ImagePart(data=block.bytes, media_type=block.mime_type))
    return truncate(text, max_chars), tuple(found)


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters plus a marker; unchanged when shorter or
    ``max_chars`` is 0."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[truncated: {max_chars} of {len(text)} characters shown]"


def image_message_parts(label: str, images: Sequence[ImagePart]) -> tuple[Part, ...]:
    """The parts of the user message that carries a tool's images to the model."""
    return (TextPart(f"Images returned by {label}:"), *images)
