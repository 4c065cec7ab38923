"""OpenTelemetry CLIENT spans and duration metric of GRPCClient calls (real server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from syncclients.errors import GRPCStatusError
from syncclients.grpc import GRPCClient
from syncclients.observability.otel import OpenTelemetryPlugin


def test_grpc_spans_and_metric(
    make_client: Callable[..., GRPCClient], echo_server: SimpleNamespace, proto: SimpleNamespace
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    plugin = OpenTelemetryPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider)
    client = make_client(echo_server.target, hooks=[plugin])
    client.call("Say", proto.pb2.SayRequest(text="hi"))
    echo_server.servicer.fail_next("Say", 1, grpc.StatusCode.NOT_FOUND)
    with pytest.raises(GRPCStatusError):
        client.call("Say", proto.pb2.SayRequest(text="hi"))
    ok, failed = exporter.get_finished_spans()
    assert ok.name == failed.name == "Say"
    assert ok.kind is SpanKind.CLIENT
    assert ok.attributes["rpc.system.name"] == "grpc"
    assert ok.attributes["rpc.response.status_code"] == "OK"
    assert "error.type" not in ok.attributes
    assert failed.attributes["rpc.response.status_code"] == "NOT_FOUND"
    assert failed.attributes["error.type"] == "NOT_FOUND"
    assert failed.status.status_code is StatusCode.ERROR
    (metric,) = [
        m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "rpc.client.call.duration"
    ]
    assert sum(p.count for p in metric.data.data_points) == 2
    tracer_provider.shutdown()
    meter_provider.shutdown()
