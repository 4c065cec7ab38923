"""The trace context reaches a real stdio MCP server in ``params._meta`` (a raw JSON-RPC
server subprocess that answers each tools/call with the ``_meta`` it received)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from syncclients.mcp import MCPClient
from syncclients.observability.otel import OpenTelemetryPlugin

SERVER = r"""
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method = msg["method"]
    if method == "initialize":
        result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "meta-echo", "version": "1"}}
    elif method == "tools/call":
        meta = msg["params"].get("_meta", {})
        result = {"content": [{"type": "text", "text": json.dumps(meta)}]}
    elif method == "ping":
        result = {}
    else:
        out = {"jsonrpc": "2.0", "id": msg["id"],
               "error": {"code": -32601, "message": "Method not found"}}
        print(json.dumps(out), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"""


def test_stdio_server_sees_the_traceparent_of_the_client_span(tmp_path: Path) -> None:
    script = tmp_path / "meta_echo.py"
    script.write_text(SERVER)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plugin = OpenTelemetryPlugin(tracer_provider=provider)
    with MCPClient.stdio(
        [sys.executable, str(script)], era="legacy", hooks=(), plugins=[plugin]
    ) as client:
        result = client.call_tool("echo_meta", {"secret": "hunter2"}, idempotent=True)
    seen = json.loads(result.content[0].text)
    span = next(s for s in exporter.get_finished_spans() if s.name == "tools/call echo_meta")
    assert seen["traceparent"].split("-")[1:3] == [
        f"{span.context.trace_id:032x}",
        f"{span.context.span_id:016x}",
    ]
    assert span.attributes["network.transport"] == "pipe"
    assert span.attributes["mcp.protocol.version"] == "2025-11-25"
    assert "mcp.session.id" not in span.attributes  # stdio has no session id
    assert not any("hunter2" in str(v) for v in span.attributes.values())
    assert "gen_ai.tool.call.arguments" not in span.attributes  # off by default
    assert "gen_ai.tool.call.result" not in span.attributes
    provider.shutdown()


def test_record_content_puts_redacted_arguments_and_result_on_the_span(tmp_path: Path) -> None:
    script = tmp_path / "meta_echo.py"
    script.write_text(SERVER)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plugin = OpenTelemetryPlugin(tracer_provider=provider, record_content=True)
    arguments = {
        "query": "weather in Oslo",
        "api_key": "sk-live-1",
        "nested": [{"password": "pw-2", "n": 3}],
        "note": "see https://bob:pw-3@example.com/x?token=tk-4&q=1",
    }
    with MCPClient.stdio(
        [sys.executable, str(script)], era="legacy", hooks=(), plugins=[plugin]
    ) as client:
        client.call_tool("echo_meta", arguments, idempotent=True)
    span = next(s for s in exporter.get_finished_spans() if s.name == "tools/call echo_meta")
    assert span.attributes is not None
    args = span.attributes["gen_ai.tool.call.arguments"]
    assert isinstance(args, str)
    assert json.loads(args)["query"] == "weather in Oslo"
    assert json.loads(args)["api_key"] == "***"
    assert json.loads(args)["nested"] == [{"password": "***", "n": 3}]
    result = span.attributes["gen_ai.tool.call.result"]
    assert isinstance(result, str)
    assert json.loads(result)["content"][0]["type"] == "text"  # the wire result, as JSON
    for secret in ("sk-live-1", "pw-2", "pw-3", "tk-4"):
        assert not any(secret in str(v) for v in span.attributes.values()), secret
    provider.shutdown()
