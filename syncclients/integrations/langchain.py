"""MCP tools as LangChain tools whose synchronous ``invoke()`` works.

The only module that imports ``langchain_core`` (extra ``langchain``). Every tool is backed
by the one shared :class:`~syncclients.mcp.MCPClient` (or :class:`~syncclients.mcp.MCPGroup`)
you pass: ``invoke()`` is a blocking ``tools/call`` bounded by ``timeout_s``; ``ainvoke()``
runs that same call in a worker thread (``asyncio.to_thread``), so neither needs an event
loop of ours and neither can hang past the timeout (the async-only adapters' sync path has
no such bound).

A result with ``isError`` (or a failed call) raises LangChain's ``ToolException``; the
tools are built with ``handle_tool_error=True``, so an agent sees the error text as the
tool's answer instead of crashing. ``structuredContent`` is returned as JSON text when
present, else the text blocks (MCP 2025-06-18 "Tool Result").
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..agent.tools import AgentTool, ToolSource, collect_tools, result_parts
from ..errors import SyncClientsError, UsageError

__all__ = ["langchain_tools"]


def _require() -> Any:
    try:
        from langchain_core import tools
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise UsageError(
            "LangChain tools need langchain-core: pip install 'syncclients[langchain]'"
        ) from None
    return tools


def langchain_tools(
    tools: ToolSource,
    *,
    timeout_s: float | None = 60.0,
    max_result_chars: int = 20_000,
) -> list[Any]:
    """The MCP tools of ``tools`` as LangChain ``StructuredTool`` values.

    Args:
        tools: an :class:`~syncclients.mcp.MCPClient`, an :class:`~syncclients.mcp.MCPGroup`,
            a list of them or ``{name: client}`` (names as
            :func:`~syncclients.agent.collect_tools` gives them). Listed once, now; the
            caller keeps owning (and closes) the clients.
        timeout_s: seconds each call may take; None: no limit (not advised).
        max_result_chars: results longer than this are cut with a marker; 0: no limit.

    Returns:
        A list of ``langchain_core.tools.StructuredTool``; ``args_schema`` is the tool's
        ``inputSchema`` as it is.

    Raises:
        UsageError: langchain-core is not installed, or two tools would share a name.
        SyncClientsError: listing the tools failed.
    """
    lc = _require()
    return [_make(lc, tool, timeout_s, max_result_chars) for tool in collect_tools(tools).values()]


def _make(lc: Any, tool: AgentTool, timeout_s: float | None, max_chars: int) -> Any:
    def call(**arguments: Any) -> str:
        try:
            result = tool.client.call_tool(tool.tool.name, arguments, timeout=timeout_s)
        except SyncClientsError as exc:
            raise lc.ToolException(f"{type(exc).__name__}: {exc}") from exc
        text, _images = result_parts(result, max_chars=max_chars, images=False)
        if result.is_error:
            raise lc.ToolException(text or "the tool reported an error")
        return text

    async def acall(**arguments: Any) -> str:
        return await asyncio.to_thread(call, **arguments)

    schema = dict(tool.tool.input_schema or {"type": "object"})
    schema.setdefault("properties", {})
    return lc.StructuredTool.from_function(
        func=call,
        coroutine=acall,
        name=tool.name,
        description=tool.tool.description or tool.tool.title or tool.name,
        args_schema=schema,
        handle_tool_error=True,
    )
