"""MCP tools as LangChain tools: sync invoke, async invoke in a thread, one shared client."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from syncclients.integrations.langchain import langchain_tools
from syncclients.mcp import MCPClient


def test_sync_and_async_invoke_share_one_client(sdk: MCPClient) -> None:
    tools = {t.name: t for t in langchain_tools(sdk, timeout_s=10)}
    assert {"add", "echo", "fail", "sleep"} <= set(tools)
    assert json.loads(tools["add"].invoke({"a": 2, "b": 3})) == {"result": 5}
    assert tools["add"].args["a"]["type"] == "integer"

    async def both() -> list[str]:
        loop_thread = threading.get_ident()
        t0 = time.monotonic()
        out = await asyncio.gather(
            tools["sleep"].ainvoke({"seconds": 0.5}), tools["sleep"].ainvoke({"seconds": 0.5})
        )
        assert threading.get_ident() == loop_thread
        assert time.monotonic() - t0 < 0.95  # the two calls ran at once, off the loop
        return out

    assert [json.loads(x) for x in asyncio.run(both())] == [{"result": "slept"}] * 2
    # every tool calls through the same client (one server process)
    pid = json.loads(tools["pid"].invoke({}))["result"]
    assert pid == json.loads(tools["pid"].invoke({}))["result"]


def test_tool_errors_and_timeouts_come_back_as_text(sdk: MCPClient) -> None:
    tools = {t.name: t for t in langchain_tools(sdk, timeout_s=0.5)}
    assert "fail" in tools["fail"].invoke({"message": "boom"})
    t0 = time.monotonic()
    answer = tools["sleep"].invoke({"seconds": 10})
    assert time.monotonic() - t0 < 3.0
    assert "Timeout" in answer
