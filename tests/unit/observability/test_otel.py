"""OpenTelemetry plugin over HTTP, with the SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from syncclients import BreakerPolicy, HTTPClient, HTTPStatusError, RetryPolicy
from syncclients.observability import enable
from syncclients.observability._attrs import HTTP_BUCKETS_S
from syncclients.observability.otel import OpenTelemetryPlugin

from .conftest import OTel, Scripted


def histogram(otel: OTel, name: str) -> Any:
    data = otel.metrics.get_metrics_data()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    return metric
    raise AssertionError(f"no metric {name}")


def test_retried_http_call_one_client_span_per_attempt_under_the_callers_span(
    http_server: Scripted, otel: OTel
) -> None:
    plugin = OpenTelemetryPlugin(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    http_server.statuses = [503]
    tracer = otel.tracer_provider.get_tracer("test")
    with HTTPClient(http_server.url, hooks=[], plugins=[plugin]) as client:
        with tracer.start_as_current_span("handler"):
            assert client.get("/items", params={"api_key": "s3cret", "page": 2}) == {"ok": True}
    spans = otel.spans.get_finished_spans()
    first, second, parent = spans
    assert parent.name == "handler"
    port = int(http_server.url.rsplit(":", 1)[1])
    for span in (first, second):
        assert span.name == "GET"
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id == parent.context.span_id
        assert span.attributes is not None
        assert span.attributes["http.request.method"] == "GET"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] == port
        assert "s3cret" not in span.attributes["url.full"]
        assert "page=2" in span.attributes["url.full"]
        assert span.attributes["url.full"].startswith(f"{http_server.url}/items?")
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    assert second.status.status_code is StatusCode.UNSET
    assert [e.name for e in parent.events] == ["syncclients.retry"]
    assert parent.events[0].attributes["syncclients.attempt"] == 1

    metric = histogram(otel, "http.client.request.duration")
    assert metric.unit == "s"
    points = {p.attributes.get("http.response.status_code"): p for p in metric.data.data_points}
    assert set(points) == {503, 200}
    assert tuple(points[503].explicit_bounds) == HTTP_BUCKETS_S
    assert points[503].count == points[200].count == 1
    assert points[503].attributes["error.type"] == "503"
    assert "url.full" not in points[200].attributes  # high cardinality stays on spans


def test_enable_opentelemetry_process_wide_and_breaker_events(
    http_server: Scripted, otel: OTel
) -> None:
    enable(
        "opentelemetry",
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    )
    http_server.statuses = [500, 500]
    tracer = otel.tracer_provider.get_tracer("test")
    with HTTPClient(
        http_server.url,
        hooks=[],
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout_s=60),
    ) as client:
        with tracer.start_as_current_span("handler"):
            for _ in range(2):
                with pytest.raises(HTTPStatusError):
                    client.get("/x")
    spans = otel.spans.get_finished_spans()
    assert [s.name for s in spans] == ["GET", "GET", "handler"]
    events = spans[-1].events
    assert [e.name for e in events] == ["syncclients.breaker_state_change"]
    assert events[0].attributes["syncclients.breaker.state"] == "open"
