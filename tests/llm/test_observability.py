"""GenAI spans and metrics of LLM calls through the fake provider servers (OTel SDK in memory)."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from syncclients.llm import Provider
from syncclients.observability.otel import OpenTelemetryPlugin
from syncclients.testing.llm_server import FakeLLMServer

HI = [{"role": "user", "content": "hi"}]


def test_chat_span_and_token_metrics(
    flavor: str, server: FakeLLMServer, providers: Callable[..., Provider]
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    plugin = OpenTelemetryPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider)
    provider = providers(flavor, server, hooks=(plugin,))
    response = provider.generate(HI)
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"chat {provider.model}"
    attrs = span.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == provider.name
    assert attrs["gen_ai.request.model"] == provider.model
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == response.usage.output_tokens == 5
    assert not any(v == "hi" for v in attrs.values())  # no prompt content
    metrics = {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    (duration,) = metrics["gen_ai.client.operation.duration"].data.data_points
    assert duration.count == 1
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in metrics["gen_ai.client.token.usage"].data.data_points
    }
    assert tokens == {"input": response.usage.input_tokens, "output": 5}
    tracer_provider.shutdown()
    meter_provider.shutdown()
