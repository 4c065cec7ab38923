"""OpenTelemetry spans and metrics of MCPClient calls (MockTransport + FakeServer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from test_cache_and_batch import server_with_tools

from syncclients.errors import MCPError
from syncclients.mcp import MCPClient, MockTransport
from syncclients.observability._attrs import LONG_BUCKETS_S
from syncclients.observability.otel import OpenTelemetryPlugin

MakeClient = Callable[..., tuple[MCPClient, MockTransport]]


@pytest.fixture
def otel() -> Iterator[tuple[OpenTelemetryPlugin, InMemorySpanExporter, InMemoryMetricReader]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    plugin = OpenTelemetryPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield plugin, exporter, reader
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_mcp_spans_and_duration_metric(
    make_client: MakeClient,
    otel: tuple[OpenTelemetryPlugin, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    plugin, exporter, reader = otel
    client, _ = make_client(server_with_tools(), plugins=[plugin], name="tools-server")
    client.call_tool("lookup", {"n": 1, "password": "hunter2"})
    result = client.call_tool("lookup", {"tool_error": True})
    assert result.is_error
    with pytest.raises(MCPError):
        client.call_tool("lookup", {"boom": True})
    ok, tool_error, rpc_error = exporter.get_finished_spans()[-3:]
    for span in (ok, tool_error, rpc_error):
        assert span.name == "tools/call lookup"
        assert span.kind is SpanKind.CLIENT
        assert span.attributes["mcp.method.name"] == "tools/call"
        assert span.attributes["gen_ai.tool.name"] == "lookup"
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["syncclients.mcp.server"] == "tools-server"
        assert not any("hunter2" in str(v) for v in span.attributes.values())
    assert "error.type" not in ok.attributes
    assert ok.status.status_code is StatusCode.UNSET
    assert tool_error.attributes["error.type"] == "tool_error"
    assert tool_error.status.status_code is StatusCode.ERROR
    assert rpc_error.attributes["error.type"] == "-32602"
    assert rpc_error.attributes["rpc.response.status_code"] == "-32602"

    data = reader.get_metrics_data()
    (metric,) = [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "mcp.client.operation.duration"
    ]
    calls = [p for p in metric.data.data_points if p.attributes.get("gen_ai.tool.name")]
    assert {p.attributes.get("error.type") for p in calls} == {None, "tool_error", "-32602"}
    assert all(tuple(p.explicit_bounds) == LONG_BUCKETS_S for p in calls)
