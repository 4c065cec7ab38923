"""x-mcp-header: validation, dropping invalid tools, and Mcp-Param-* headers on the wire
(a scripted modern-era Streamable HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from syncclients import UsageError
from syncclients.mcp import MCPClient
from syncclients.mcp.param_headers import InvalidHeaderAnnotation, header_specs, param_headers
from syncclients.testing import LocalHTTPServer, Reply, RequestInfo

SQL_SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "query": {"type": "string"},
        "options": {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "x-mcp-header": "Limit"},
                "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
            },
        },
    },
}


def test_specs_found_at_any_depth() -> None:
    assert header_specs(SQL_SCHEMA) == (
        (("region",), "Region"),
        (("options", "limit"), "Limit"),
        (("options", "dry"), "Dry-Run"),
    )


@pytest.mark.parametrize(
    "prop",
    [
        {"type": "number", "x-mcp-header": "N"},
        {"type": "object", "x-mcp-header": "O"},
        {"type": "string", "x-mcp-header": ""},
        {"type": "string", "x-mcp-header": "Bad Name"},
        {"type": "string", "x-mcp-header": "X\r\nY"},
        {"type": "string", "x-mcp-header": 5},
    ],
)
def test_invalid_annotations_are_rejected(prop: dict[str, Any]) -> None:
    with pytest.raises(InvalidHeaderAnnotation):
        header_specs({"type": "object", "properties": {"p": prop}})


def test_case_insensitive_duplicates_are_rejected() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "x-mcp-header": "Region"},
            "b": {"type": "string", "x-mcp-header": "REGION"},
        },
    }
    with pytest.raises(InvalidHeaderAnnotation):
        header_specs(schema)


def test_header_values_encoded_and_absent_values_skipped() -> None:
    specs = header_specs(SQL_SCHEMA)
    headers = param_headers(specs, {"region": "eu-west1", "options": {"limit": 10, "dry": True}})
    assert headers == {
        "Mcp-Param-Region": "eu-west1",
        "Mcp-Param-Limit": "10",
        "Mcp-Param-Dry-Run": "true",
    }
    assert param_headers(specs, {"region": "Zürich"}) == {
        "Mcp-Param-Region": "=?base64?WsO8cmljaA==?="
    }
    assert param_headers(specs, {"region": None, "options": {"limit": 2**60}}) == {}


def modern_server() -> LocalHTTPServer:
    server = LocalHTTPServer()
    tools = [
        {"name": "sql", "inputSchema": SQL_SCHEMA},
        {
            "name": "bad",
            "inputSchema": {
                "type": "object",
                "properties": {"x": {"type": "number", "x-mcp-header": "X"}},
            },
        },
        {"name": "plain", "inputSchema": {"type": "object"}},
    ]

    def handle(req: RequestInfo) -> Reply:
        body = req.json()
        method = body["method"]
        if "id" not in body:
            return Reply(202)
        meta = {"io.modelcontextprotocol/serverInfo": {"name": "fake", "version": "1"}}
        if method == "server/discover":
            result: dict[str, Any] = {
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools": {}},
                "ttlMs": 0,
                "cacheScope": "public",
            }
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call":
            mirrored = {k: v for k, v in req.headers.items() if k.lower().startswith("mcp-param-")}
            result = {
                "content": [{"type": "text", "text": json.dumps(mirrored, sort_keys=True)}],
                "structuredContent": {"headers": mirrored, "name": req.headers.get("Mcp-Name")},
            }
        else:
            return Reply(
                404,
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32601, "message": "nope"}},
            )
        result["resultType"] = "complete"
        result["_meta"] = meta
        return Reply(200, {"jsonrpc": "2.0", "id": body["id"], "result": result})

    server.routes[("POST", "/mcp")] = handle
    return server.start()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = modern_server()
    try:
        yield srv
    finally:
        srv.stop()


def test_client_drops_invalid_tools_and_mirrors_parameters(
    server: LocalHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="syncclients.mcp"):
        with MCPClient.http(server.url + "/mcp", era="2026-07-28", hooks=()) as client:
            # the first call lists tools itself: it must know the x-mcp-header parameters
            result = client.call_tool(
                "sql", {"region": "us-west1", "query": "SELECT 1", "options": {"limit": 5}}
            )
            assert result.structured_content == {
                "headers": {"Mcp-Param-Region": "us-west1", "Mcp-Param-Limit": "5"},
                "name": "sql",
            }
            assert [t.name for t in client.list_tools()] == ["sql", "plain"]
            assert client.call_tool("plain", {"region": "x"}).structured_content == {
                "headers": {},
                "name": "plain",
            }
            with pytest.raises(UsageError):  # excluded from tools/list: never sent
                client.call_tool("bad", {"x": 1.5})
    assert any("'bad' dropped" in r.getMessage() for r in caplog.records)
    assert server.count("POST", "/mcp") == 5  # discover, list, 2 calls + notifications? no
