"""Over Streamable HTTP, the official-SDK server sees the ``traceparent`` of our client span
in ``params._meta``, and the span carries ``mcp.session.id`` and ``mcp.protocol.version``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp_http_helpers import ServerProcess, start_sdk_server
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from syncclients import MCPClient
from syncclients.observability.otel import OpenTelemetryPlugin


@pytest.fixture
def sdk_meta(server_tmp: Path) -> Iterator[ServerProcess]:
    server = start_sdk_server("streamable-meta", server_tmp)
    yield server
    server.stop()


def test_http_server_sees_the_traceparent_and_the_span_has_session_and_version(
    sdk_meta: ServerProcess,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plugin = OpenTelemetryPlugin(tracer_provider=provider)
    try:
        with MCPClient.http(
            sdk_meta.base + "/mcp", era="legacy", hooks=(), plugins=[plugin]
        ) as client:
            result = client.call_tool("echo_meta", {}, idempotent=True)
            version = client.protocol_version
        seen = json.loads(result.content[0].text)
        spans = exporter.get_finished_spans()
        span = next(s for s in spans if s.name == "tools/call echo_meta")
        assert span.attributes is not None
        assert seen["traceparent"].split("-")[1:3] == [
            f"{span.context.trace_id:032x}",
            f"{span.context.span_id:016x}",
        ]
        assert span.attributes["mcp.protocol.version"] == version
        session = span.attributes["mcp.session.id"]
        assert isinstance(session, str) and session
        assert len(session) >= 16  # the server's Mcp-Session-Id (a random token)
        assert span.attributes["network.transport"] == "tcp"
    finally:
        provider.shutdown()
