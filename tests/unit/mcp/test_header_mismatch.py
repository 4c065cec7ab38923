"""MCP 2026-07-28: a -32020 HeaderMismatch answer to tools/call re-lists the tools and
retries once with fresh Mcp-Param-* headers (a scripted modern server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncclients import MCPClient, MCPError
from syncclients.testing import LocalHTTPServer, Reply, RequestInfo

OLD = {"type": "object", "properties": {"region": {"type": "string"}}}
NEW = {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}


class Server:
    def __init__(self) -> None:
        self.schema: dict[str, Any] = OLD
        self.lists = 0
        self.calls: list[dict[str, str]] = []
        self.always_mismatch = False
        self.http = LocalHTTPServer()
        self.http.routes[("POST", "/mcp")] = self.handle

    def handle(self, req: RequestInfo) -> Reply:
        body = req.json()
        method = body["method"]
        if "id" not in body:
            return Reply(202)
        if method == "server/discover":
            result: dict[str, Any] = {
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools": {}},
                "ttlMs": 0,
                "cacheScope": "public",
            }
        elif method == "tools/list":
            self.lists += 1
            result = {"tools": [{"name": "sql", "inputSchema": self.schema}]}
        elif method == "tools/call":
            mirrored = {k: v for k, v in req.headers.items() if k.lower().startswith("mcp-param-")}
            self.calls.append(mirrored)
            if self.always_mismatch or (self.schema is NEW and "Mcp-Param-Region" not in mirrored):
                error = {"code": -32020, "message": "Header mismatch: Mcp-Param-Region"}
                return Reply(400, {"jsonrpc": "2.0", "id": body["id"], "error": error})
            result = {"content": [{"type": "text", "text": "ok"}]}
        else:
            error = {"code": -32601, "message": "nope"}
            return Reply(404, {"jsonrpc": "2.0", "id": body["id"], "error": error})
        result["resultType"] = "complete"
        result["_meta"] = {"io.modelcontextprotocol/serverInfo": {"name": "f", "version": "1"}}
        return Reply(200, {"jsonrpc": "2.0", "id": body["id"], "result": result})


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.http.start()
    try:
        yield srv
    finally:
        srv.http.stop()


def test_header_mismatch_relists_and_retries_once(server: Server) -> None:
    with MCPClient.http(server.http.url + "/mcp", era="2026-07-28", hooks=()) as client:
        client.list_tools()  # the old schema: region is not mirrored
        server.schema = NEW  # the server's tool changes
        assert client.call_tool("sql", {"region": "eu"}).text == "ok"
    assert server.calls == [{}, {"Mcp-Param-Region": "eu"}]
    assert server.lists == 2


def test_a_second_header_mismatch_is_raised(server: Server) -> None:
    server.always_mismatch = True
    with (
        MCPClient.http(server.http.url + "/mcp", era="2026-07-28", hooks=()) as client,
        pytest.raises(MCPError) as info,
    ):
        client.call_tool("sql", {"region": "eu"})
    assert info.value.code == -32020
    assert len(server.calls) == 2  # one retry, not more
