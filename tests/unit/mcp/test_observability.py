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


def test_trace_context_reaches_the_server_in_params_meta(
    make_client: MakeClient,
    otel: tuple[OpenTelemetryPlugin, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    plugin, exporter, _ = otel
    server = server_with_tools()
    client, _ = make_client(server, plugins=[plugin])
    tracer = plugin._tracer
    with tracer.start_as_current_span("agent step") as parent:
        client.call_tool("lookup", {"n": 2}, meta={"app.key": "v"})
    (request,) = [r for r in server.requests if r.method == "tools/call"]
    meta = request.params["_meta"]
    assert meta["app.key"] == "v"  # the caller's keys are kept
    span = next(s for s in exporter.get_finished_spans() if s.name == "tools/call lookup")
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    trace_id = f"{span.context.trace_id:032x}"
    span_id = f"{span.context.span_id:016x}"
    version, sent_trace, sent_parent, flags = meta["traceparent"].split("-")
    assert (version, sent_trace, sent_parent) == ("00", trace_id, span_id)
    assert int(flags, 16) & 1  # sampled (W3C Trace Context)
    assert span.attributes["jsonrpc.request.id"] == str(request.id)


def test_no_plugin_no_meta(make_client: MakeClient) -> None:
    server = server_with_tools()
    client, _ = make_client(server)
    client.call_tool("lookup", {"n": 2})
    (request,) = [r for r in server.requests if r.method == "tools/call"]
    assert "_meta" not in request.params


def test_batch_one_parent_a_child_span_per_call(
    make_client: MakeClient,
    otel: tuple[OpenTelemetryPlugin, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    plugin, exporter, _ = otel
    client, _ = make_client(server_with_tools(), plugins=[plugin])
    with plugin._tracer.start_as_current_span("batch") as parent:
        results = client.call_tool_batch(
            [("lookup", {"n": i}) for i in range(4)], max_workers=2, progress=False
        )
    assert len(results) == 4
    calls = [s for s in exporter.get_finished_spans() if s.name == "tools/call lookup"]
    assert len(calls) == 4
    parent_id = parent.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == parent_id for s in calls)
    assert len({s.context.span_id for s in calls}) == 4
